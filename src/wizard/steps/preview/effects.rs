//! The effects of step 5: computing the plan (keeping what it was made from, for links by hand),
//! linking by hand, and exporting the plan.

use std::collections::HashSet;
use std::sync::Arc;

use super::resolve::Basis;
use super::{PreviewCommand, export};
use crate::sync::{ActionKind, Plan};
use crate::wizard::draft::Connections;
use crate::wizard::jobs::{Reply, Task};
use crate::wizard::shell::Wizard;

impl Wizard {
    /// Step 5 opens: plans unless the plan shown was made for the fields as they are.
    pub(crate) fn open_preview(&mut self) {
        if self.preview.plan.wants(self.fingerprint()) {
            self.load_plan();
        }
    }

    /// The users the plan for the fields as they are acts on (every action but a skip, each
    /// user once): the N of step 4's confirmation.
    pub(crate) fn acted_on(&self) -> Task<usize> {
        if !self.preview.plan.is_for(self.fingerprint()) {
            return Task::Idle;
        }
        match &self.preview.plan.task {
            Task::Done(plan) => Task::Done(acted_on(plan)),
            Task::Pending => Task::Pending,
            Task::Failed(message) => Task::Failed(message.clone()),
            Task::Idle => Task::Idle,
        }
    }

    fn load_plan(&mut self) {
        let key = self.fingerprint();
        self.preview.plan.start(key);
        let draft = self.draft();
        let decisions = self.preview.decisions.clone();
        self.jobs.spawn_pinned(move || async move {
            let result = async {
                let conn = Connections::open(&draft).await?;
                let (stored, applied_before) = draft.stored(&conn.settings)?;
                let mut links = stored.clone();
                for d in &decisions {
                    links.insert(d.link.entra_id.clone(), d.link.clone());
                }
                let planned = conn.plan(&links, applied_before).await?;
                let basis = Basis::new(conn.settings, planned.source, planned.target, stored);
                Ok((planned.plan, basis))
            }
            .await;
            Box::new(move |w: &mut Wizard| {
                let (result, basis) = match result {
                    Ok((plan, basis)) => (Ok(plan), Some(basis)),
                    Err(e) => (Err(e), None),
                };
                if w.preview.plan.finish(key, result) {
                    w.preview.plan_changed();
                    w.preview.basis = basis.map(Arc::new);
                    w.preview.recheck_decisions();
                }
            }) as Reply
        });
    }

    /// Runs what step 5 asked for.
    pub(crate) fn run_preview(&mut self, command: PreviewCommand) {
        match command {
            PreviewCommand::Refresh => self.load_plan(),
            PreviewCommand::Link {
                entra_id,
                target_id,
            } => self
                .preview
                .link_by_hand(&entra_id, &target_id, &crate::links::os_user()),
            PreviewCommand::Undo { entra_id } => self.preview.undo_link(&entra_id),
            PreviewCommand::Export(format) => {
                let Some(plan) = self.preview.plan.done().cloned() else {
                    return;
                };
                let file_name = format!("adsync-plan.{}", format.extension());
                let what = format!("the plan ({})", format.extension().to_uppercase());
                self.save_file(
                    &what,
                    &file_name,
                    export(&plan, format).into_bytes(),
                    |w, result| w.export_notice = Some(result),
                );
            }
        }
    }
}

/// Distinct users with an action other than a skip.
pub(crate) fn acted_on(plan: &Plan) -> usize {
    plan.actions
        .iter()
        .filter(|a| a.kind != ActionKind::Skip)
        .map(|a| a.entra_id.as_str())
        .collect::<HashSet<_>>()
        .len()
}
