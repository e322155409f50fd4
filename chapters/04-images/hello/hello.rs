//! The program inside baleia's built-in `hello-world` image. It is compiled by `build.rs` as a
//! static binary (no shared libraries to find), so it runs in an image that holds nothing else.

fn main() {
    print!(
        "
Hello from baleia!
This message shows that your installation appears to be working correctly.

To generate this message, baleia took the following steps:
 1. It made the \"hello-world\" image without any network: one layer, a tar holding this
    single static program, stored by its SHA-256 digest in an OCI image layout.
 2. It unpacked that layer once into a directory named by its chain id, where every image
    with the same layers shares it.
 3. It ran this program from that layer, which wrote the text you are reading now.

To try something more ambitious, import a root file system and look inside:
 $ ch04-images import rootfs.tar busybox:latest --change 'CMD [\"/bin/sh\"]'
 $ ch04-images tree

For more, read the course: chapters/04-images/README.md
"
    );
}
