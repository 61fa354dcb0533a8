//! The terminal front end: the commands that print or write files rather than open the
//! window or serve (`record`, `replay`, `export`, `import`, `info`, `attach`).

pub mod attach;
pub mod record;
