//! The README's flag tables against the command line: every flag they list exists for the
//! subcommands of that section, with the default they give.

use crate::command::build;

/// The README, as users read it.
const README: &str = include_str!("../../../README.md");

#[test]
fn every_flag_in_the_readme_exists_with_its_default() {
    let command = build("ferry");
    let mut subcommands: Vec<&str> = Vec::new();
    let mut checked = 0;
    let mut in_table = false;
    let mut in_code = false;
    for line in README.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        // Each table follows a usage block naming its subcommands (`ferry files [--bind ...]`).
        if let Some(rest) = line.strip_prefix("ferry ").filter(|_| in_code) {
            if in_table {
                subcommands.clear();
                in_table = false;
            }
            subcommands.extend(rest.split_whitespace().next());
            continue;
        }
        let cells: Vec<&str> = line.split(" | ").collect();
        if !line.starts_with("| `--") || cells.len() < 3 {
            continue;
        }
        in_table = true;
        let flags: Vec<&str> = ticked(cells[0])
            .iter()
            .filter_map(|flag| flag.strip_prefix("--"))
            .map(|flag| flag.split(' ').next().unwrap_or_default())
            .collect();
        let defaults = ticked(cells[1]);
        for (index, flag) in flags.iter().enumerate() {
            let mut found = false;
            for name in &subcommands {
                let sub = command.find_subcommand(name);
                let sub = sub.unwrap_or_else(|| panic!("README names no subcommand {name}"));
                let Some(arg) = sub.get_arguments().find(|arg| arg.get_long() == Some(flag)) else {
                    continue;
                };
                found = true;
                if let Some(default) = defaults.get(index) {
                    let actual: Vec<String> = arg
                        .get_default_values()
                        .iter()
                        .map(|value| value.to_string_lossy().into_owned())
                        .collect();
                    assert_eq!(actual, [*default], "README: {name} --{flag}");
                }
            }
            assert!(found, "README: --{flag} is not a flag of {subcommands:?}");
            checked += 1;
        }
    }
    assert!(
        checked > 20,
        "only {checked} flags found in the README's tables"
    );
}

/// The texts in backticks of a table cell, in order (`\|` is a `|` inside one).
fn ticked(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}
