//! The checked-in completion scripts match the current command line.
//! `LLMPIPE_UPDATE_COMPLETIONS=1 cargo test completions` rewrites them.

use std::path::Path;

use clap_complete::Shell;

#[test]
fn completion_scripts_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("LLMPIPE_UPDATE_COMPLETIONS").is_some();
    for (shell, file) in [
        (Shell::Bash, "llmpipe.bash"),
        (Shell::Zsh, "_llmpipe"),
        (Shell::Fish, "llmpipe.fish"),
    ] {
        let fresh = llmpipe::commands::completion_script(shell);
        let path = dir.join(file);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &fresh).unwrap();
            continue;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == fresh,
            "completions/{file} is stale: run LLMPIPE_UPDATE_COMPLETIONS=1 cargo test completions"
        );
    }
}
