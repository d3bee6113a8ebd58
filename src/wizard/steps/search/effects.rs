//! The effects of step 4: reading the members of the paired groups, and the confirmation.

use super::SearchCommand;
use crate::wizard::draft::{Connections, FingerprintPart, fingerprint};
use crate::wizard::jobs::Reply;
use crate::wizard::shell::Wizard;
use crate::wizard::step::Step;

impl Wizard {
    /// Runs what step 4 asked for.
    pub(crate) fn run_search(&mut self, command: SearchCommand) {
        match command {
            SearchCommand::Confirmed => {
                self.search.confirming = false;
                self.go_to(Step::Preview);
            }
            SearchCommand::Reload => self.load_source(),
        }
    }

    /// Step 4 opens: reads the members unless they were read for these settings and pairs.
    pub(crate) fn open_search(&mut self) {
        if self.search.source.wants(self.source_key()) {
            self.load_source();
        }
    }

    /// The inputs of the members' read: the connections, the pairs, and the Graph properties
    /// the mappings read.
    fn source_key(&self) -> u64 {
        let sources: Vec<String> = self.search.mapping_sources().into_iter().collect();
        fingerprint(&[
            &self.credentials as &dyn FingerprintPart,
            &self.azure,
            &self.pairing.pairs,
            &sources,
        ])
    }

    fn load_source(&mut self) {
        let key = self.source_key();
        self.search.source.start(key);
        let read_for = self.search.mapping_sources();
        let mut draft = self.draft();
        // Graph is asked for what the rows without a problem read (a half-typed property name
        // would make it refuse the read).
        draft.mappings = self.search.attributes.valid_mappings();
        self.jobs.spawn_pinned(move || async move {
            let result = async {
                let conn = Connections::open(&draft).await?;
                let links = draft.links(&conn.settings)?;
                conn.source(&links).await
            }
            .await;
            Box::new(move |w: &mut Wizard| {
                if w.search.source.finish(key, result) {
                    // New members: the cached matches are for the old ones.
                    w.search.view = Default::default();
                    w.search.read_for = Some(read_for);
                }
            }) as Reply
        });
    }
}
