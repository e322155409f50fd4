//! An ordinary user the tests own, to run the chapters without root: `baleia-learner`, with a
//! home and subordinate uid and gid ranges (so `newuidmap` maps a whole range for it), made
//! on first use and kept (making it is idempotent). `nobody` (65534) stands for a user with no
//! ranges.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The test user's name.
pub const NAME: &str = "baleia-learner";
/// A user to run commands as.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// Its first subordinate uid range (start, count) in /etc/subuid, if any; the tests
    /// expect the same range in /etc/subgid.
    pub subordinate: (u32, u32),
}

impl User {
    /// `baleia-learner`, made if missing by `scripts/learner-user` (which the lessons' runner
    /// and the guest's scripts share), with its subordinate ranges. Needs root.
    pub fn learner() -> User {
        crate::require_root();
        static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = MAKING.lock().unwrap_or_else(|p| p.into_inner());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/learner-user");
        let output = Command::new(&script)
            .output()
            .expect("run scripts/learner-user");
        assert!(
            output.status.success(),
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        lookup(NAME).expect("the test user exists")
    }

    /// `nobody`: an ordinary user without subordinate ranges.
    pub fn nobody() -> User {
        User {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
            home: "/nonexistent".into(),
            subordinate: (0, 0),
        }
    }

    /// `program` run as this user (real and effective ids, its groups), through `setpriv`,
    /// in a clean environment: HOME (`home`), USER and a plain PATH, and what the caller adds.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>, home: &Path) -> Command {
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg(program)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", home)
            .env("USER", &self.name);
        command
    }

    /// A directory this user owns, inside `parent` (which must let it through: made 0755).
    pub fn own_dir(&self, parent: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(parent, PermissionsExt::from_mode(0o755)).unwrap();
        let dir = parent.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        nix::unistd::chown(
            &dir,
            Some(nix::unistd::Uid::from_raw(self.uid)),
            Some(nix::unistd::Gid::from_raw(self.gid)),
        )
        .unwrap();
        dir
    }
}

fn lookup(name: &str) -> Option<User> {
    let user = nix::unistd::User::from_name(name).ok().flatten()?;
    let subordinate = std::fs::read_to_string("/etc/subuid")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            (fields.next()? == name).then_some(())?;
            Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
        })
        .unwrap_or((0, 0));
    Some(User {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        home: user.dir,
        subordinate,
    })
}
