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

To try something more ambitious, give the engine an image with a shell and run it:
 $ baleia pull busybox
 $ baleia run -it --rm busybox sh
Without a network, import a root file system instead of pulling:
 $ baleia import rootfs.tar busybox --change 'CMD [\"/bin/sh\"]'

To see how each step works, start the course at its first chapter:
 chapters/00-container/README.md
"
    );
}
