//! What to do next, after the daemon's error: `No such container: web` alone leaves a user
//! guessing; `…; \`baleia ps -a\` lists the containers` does not. The daemon's words come
//! first and stay as docker's (scripts match them); the hint follows.

/// The next step for a daemon error with `status` and `message`, if one helps.
pub fn next_step(status: u16, message: &str) -> Option<&'static str> {
    let has = |words: &str| message.contains(words);
    let hint = match status {
        404 if has("No such container") => "`baleia ps -a` lists the containers",
        404 if has("No such image") => {
            "`baleia images` lists the images here; `baleia pull NAME` fetches one"
        }
        404 if has("No such exec instance") => {
            "an exec is gone once its container stops; `baleia exec` starts another"
        }
        404 if has("no such volume") => "`baleia volume ls` lists the volumes",
        404 if has("no such network") || (has("network ") && has(" not found")) => {
            "`baleia network ls` lists the networks"
        }
        404 if has("Could not find the file") => {
            "`baleia exec CONTAINER ls DIR` shows what is there"
        }
        404 | 400 if has("manifest unknown") || has("not found") && has("manifest") => {
            "check the name and tag; `baleia login REGISTRY` if the repository is private"
        }
        401 => "`baleia login REGISTRY` stores credentials for it",
        409 if has("is already in use by container") => {
            "remove that container (`baleia rm -f NAME`) or choose another --name"
        }
        409 if has("You cannot remove a running container") => {
            "stop it first (`baleia stop CONTAINER`) or force it (`baleia rm -f CONTAINER`)"
        }
        409 if has("is not running") => "start it first: `baleia start CONTAINER`",
        409 if has("is paused") => "unpause it first: `baleia unpause CONTAINER`",
        409 if has("must force") || has("is using its referenced image") => {
            "remove the containers that use it first (`baleia ps -a --filter ancestor=IMAGE`)"
        }
        409 if has("volume") && has("in use") => {
            "remove the containers that use it first (`baleia rm CONTAINER`)"
        }
        409 if has("has active containers") => {
            "remove the containers attached first (`baleia ps -a --filter network=NAME`)"
        }
        409 if has("exists already") => "choose another name, or remove the old one first",
        409 if has("has already run") => "an exec runs once; `baleia exec` starts another",
        _ => return None,
    };
    Some(hint)
}

/// `inspect`'s error for a name that is neither a container nor an image (docker's words),
/// and where to look.
pub fn no_such_object(name: &str) -> String {
    format!("Error: No such object: {name}; `baleia ps -a` and `baleia images` list what there is")
}

#[cfg(test)]
mod tests {
    use super::next_step;

    #[test]
    fn common_errors_say_what_to_do_next() {
        assert_eq!(
            next_step(404, "No such container: web"),
            Some("`baleia ps -a` lists the containers")
        );
        assert!(next_step(409, "You cannot remove a running container abc. Stop the container before attempting removal or force remove")
            .unwrap()
            .contains("baleia rm -f"));
        assert!(next_step(409, "container abc is not running")
            .unwrap()
            .contains("baleia start"));
        assert_eq!(next_step(500, "disk full"), None);
    }
}
