//! # Chapter 05 — the Dockerfile (the parser)
//!
//! A Dockerfile is the definition of an image: a base (`FROM`), the commands that build its
//! file system (`RUN`, `COPY`, `ADD`), and settings for the containers made from it (`ENV`,
//! `CMD`, `EXPOSE`...). This crate reads one the way Docker does and turns it into a typed,
//! positioned syntax tree, then into a build plan of stages with variables substituted:
//!
//! ```text
//! text ─► lines ─► directives ─► logical lines ─► instructions ─► (resolve) ─► stages
//!         lines.rs  directives.rs  lines.rs        parser.rs        resolve.rs
//!                                                  instruction.rs   substitute.rs
//! ```
//!
//! [`parse`] gives the Dockerfile as written; [`resolve`] binds it to build arguments. Errors
//! name `file:line:column` and show the line with a caret ([`ParseError`]). [`dockerignore`]
//! decides which files of the build context a build may see.
//!
//! The builder (running RUN in containers, layers, the cache) comes in a later part of this
//! chapter, on top of chapters 03 and 04.

pub mod ast;
pub mod build;
pub mod directives;
pub mod dockerignore;
pub mod duration;
pub mod error;
pub mod flags;
pub mod glob;
pub mod heredoc;
pub mod instruction;
pub mod json_form;
pub mod keyword;
pub mod lines;
pub mod parser;
pub mod reference;
pub mod resolve;
pub mod substitute;
pub mod values;
pub mod words;

pub use ast::{Command, CommandLine, Effect, Instruction};
pub use error::{ParseError, Pos};
pub use parser::{parse, Dockerfile};
pub use resolve::{resolve, Base, Build, Stage};
