//! What to change on the replica so that its Sieve scripts equal the master's: a pure
//! function of both listings, tested with tables.

/// One side's script as listed and fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// Its name on the server.
    pub name: String,
    /// Its bytes (GETSCRIPT).
    pub body: Vec<u8>,
    /// Whether it is the active script.
    pub active: bool,
}

/// One change to the replica, in the order [`plan`] gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// PUTSCRIPT a script the replica lacks (`new`) or holds with other bytes.
    Put {
        /// The script's name.
        name: String,
        /// True when the replica has no script of that name.
        new: bool,
    },
    /// SETACTIVE the master's active script.
    Activate(String),
    /// SETACTIVE "": the master has no active script.
    Deactivate,
    /// DELETESCRIPT a script only the replica has.
    Delete(String),
}

/// The steps, in an order the server accepts: scripts are stored before one of them is
/// activated, and the replica's active script is switched away before it is deleted (RFC
/// 5804 refuses to delete the active script). An empty plan means the replica is identical.
pub fn plan(master: &[Script], replica: &[Script]) -> Vec<Step> {
    let on_replica = |name: &str| replica.iter().find(|s| s.name == name);
    let mut steps = Vec::new();
    let mut masters: Vec<&Script> = master.iter().collect();
    masters.sort_by(|a, b| a.name.cmp(&b.name));
    for script in &masters {
        match on_replica(&script.name) {
            Some(theirs) if theirs.body == script.body => {}
            theirs => steps.push(Step::Put {
                name: script.name.clone(),
                new: theirs.is_none(),
            }),
        }
    }
    let active = |side: &[Script]| side.iter().find(|s| s.active).map(|s| s.name.clone());
    match (active(master), active(replica)) {
        (ours, theirs) if ours == theirs => {}
        (Some(ours), _) => steps.push(Step::Activate(ours)),
        (None, Some(_)) => steps.push(Step::Deactivate),
        (None, None) => {}
    }
    let mut replica_only: Vec<&Script> = replica
        .iter()
        .filter(|s| !master.iter().any(|m| m.name == s.name))
        .collect();
    replica_only.sort_by(|a, b| a.name.cmp(&b.name));
    steps.extend(
        replica_only
            .into_iter()
            .map(|s| Step::Delete(s.name.clone())),
    );
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, body: &str, active: bool) -> Script {
        Script {
            name: name.into(),
            body: body.as_bytes().to_vec(),
            active,
        }
    }

    fn put(name: &str, new: bool) -> Step {
        Step::Put {
            name: name.into(),
            new,
        }
    }

    /// What the case is, the master's scripts, the replica's, the expected plan.
    type Case = (&'static str, Vec<Script>, Vec<Script>, Vec<Step>);

    #[test]
    fn table() {
        let cases: Vec<Case> = vec![
            ("both empty", vec![], vec![], vec![]),
            (
                "identical",
                vec![s("a", "keep;", true), s("b", "stop;", false)],
                vec![s("b", "stop;", false), s("a", "keep;", true)],
                vec![],
            ),
            (
                "fresh replica: stored, then activated",
                vec![s("b", "x", false), s("a", "y", true)],
                vec![],
                vec![put("a", true), put("b", true), Step::Activate("a".into())],
            ),
            (
                "changed body only",
                vec![s("a", "new", true)],
                vec![s("a", "old", true)],
                vec![put("a", false)],
            ),
            (
                "replica-only active script: switched away, then deleted",
                vec![s("a", "x", true)],
                vec![s("a", "x", false), s("z", "mine", true)],
                vec![Step::Activate("a".into()), Step::Delete("z".into())],
            ),
            (
                "master has none active",
                vec![s("a", "x", false)],
                vec![s("a", "x", true)],
                vec![Step::Deactivate],
            ),
            (
                "everything on the replica is extra",
                vec![],
                vec![s("b", "x", false), s("a", "x", true)],
                vec![
                    Step::Deactivate,
                    Step::Delete("a".into()),
                    Step::Delete("b".into()),
                ],
            ),
            (
                "names differ only in case: two scripts",
                vec![s("A", "x", false)],
                vec![s("a", "x", false)],
                vec![put("A", true), Step::Delete("a".into())],
            ),
        ];
        for (what, master, replica, expected) in cases {
            assert_eq!(plan(&master, &replica), expected, "{what}");
        }
    }

    #[test]
    fn applying_a_plan_makes_the_second_plan_empty() {
        let master = vec![s("a", "1", false), s("b", "2", true), s("c", "3", false)];
        let mut replica = vec![s("b", "old", false), s("d", "4", true)];
        for step in plan(&master, &replica) {
            match step {
                Step::Put { name, .. } => {
                    let body = master.iter().find(|m| m.name == name).unwrap().body.clone();
                    replica.retain(|r| r.name != name);
                    replica.push(Script {
                        name,
                        body,
                        active: false,
                    });
                }
                Step::Activate(name) => {
                    for r in &mut replica {
                        r.active = r.name == name;
                    }
                }
                Step::Deactivate => replica.iter_mut().for_each(|r| r.active = false),
                Step::Delete(name) => {
                    assert!(!replica.iter().any(|r| r.name == name && r.active));
                    replica.retain(|r| r.name != name);
                }
            }
        }
        assert_eq!(plan(&master, &replica), vec![]);
    }
}
