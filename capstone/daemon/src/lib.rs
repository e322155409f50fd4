//! The daemon (`baleia daemon`): the Docker Engine API on a unix socket.
//!
//! - [`daemon`]: the socket, one thread per connection, the re-adoption of running containers.
//! - [`api`]: the router, from a request's method and path to the engine.
//! - [`engine`]: containers, images, volumes, networks, events, builds.
//!
//! Below it: the supervisor it starts for each container (it shares their handshake), and the
//! runtime, whose security profiles and device rules the engine writes into each spec.
//! Nothing of the client: the daemon knows the client only by its HTTP requests.

// serde_json::json! of /info nests deeper than the default limit.
#![recursion_limit = "256"]

pub mod api;
pub mod daemon;
pub mod engine;

// The roles and the shared modules this one builds on, under the names its modules use.
use baleia_runtime as runtime;
use baleia_supervisor::shim;
use baleia_wire::{http, logs, stdin, time};
