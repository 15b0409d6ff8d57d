//! Loading cadence files and the accounts file, with errors that name the file, the field and the reason.

use cadence_core::account::Accounts;
use cadence_core::cadence::{Cadence, CadenceError, CadenceErrors};
use cadence_core::service::CadenceSet;
use std::path::Path;

/// Reads a file, naming it in the error.
pub fn read(path: &Path) -> Result<String, CadenceErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        CadenceErrors(vec![CadenceError {
            file: path.display().to_string(),
            field: "(file)".into(),
            reason: e.to_string(),
        }])
    })
}

/// Validates one cadence file.
pub fn load_cadence(path: &Path) -> Result<Cadence, CadenceErrors> {
    let text = read(path)?;
    Cadence::from_yaml(&path.display().to_string(), &text)
}

/// The built-ins plus extra cadence files (a file with a built-in's id replaces it).
pub fn load_cadences(extra: &[std::path::PathBuf]) -> Result<CadenceSet, CadenceErrors> {
    let mut set = CadenceSet::builtins();
    let mut errors = Vec::new();
    for p in extra {
        match load_cadence(p) {
            Ok(c) => set.insert(c),
            Err(e) => errors.extend(e.0),
        }
    }
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(CadenceErrors(errors))
    }
}

/// The accounts file, or the demo account when none is given.
pub fn load_accounts(
    path: Option<&Path>,
    cadences: &CadenceSet,
) -> Result<Accounts, CadenceErrors> {
    match path {
        None => Ok(Accounts::demo()),
        Some(p) => {
            let text = read(p)?;
            Accounts::from_yaml(&p.display().to_string(), &text, |id| cadences.contains(id))
        }
    }
}

/// The cadences (built-ins plus `extra`) and the accounts file they are checked against: what every command that
/// runs the services loads first.
pub fn load(
    extra: &[std::path::PathBuf],
    accounts: Option<&Path>,
) -> Result<(CadenceSet, Accounts), CadenceErrors> {
    let set = load_cadences(extra)?;
    let accounts = load_accounts(accounts, &set)?;
    Ok((set, accounts))
}
