//! Step 4's scope criteria: the rows an administrator edits (each becomes one `[[scope]]` rule;
//! every rule must match), the names the administrator knows for the Graph properties they test,
//! and the guests switch (`policy.include_guests`).

use egui::{Button, ComboBox, RichText, TextEdit, Ui};

use crate::config::{ScopeAttribute, ScopeOperator, ScopeRule};

/// One criterion as edited: a `[[scope]]` rule once its value is filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Criterion {
    pub attribute: ScopeAttribute,
    pub operator: ScopeOperator,
    /// Empty: the row is not a rule yet (it is left out of the config).
    pub value: String,
}

impl Default for Criterion {
    fn default() -> Self {
        Self {
            attribute: ScopeAttribute::Department,
            operator: ScopeOperator::Contains,
            value: String::new(),
        }
    }
}

impl Criterion {
    /// The rule this row stands for, when its value is filled in (trimmed, as the config holds it).
    pub fn rule(&self) -> Option<ScopeRule> {
        let value = self.value.trim();
        (!value.is_empty()).then(|| ScopeRule {
            attribute: self.attribute,
            operator: self.operator,
            value: value.to_owned(),
        })
    }
}

impl From<&ScopeRule> for Criterion {
    fn from(rule: &ScopeRule) -> Self {
        Self {
            attribute: rule.attribute,
            operator: rule.operator,
            value: rule.value.clone(),
        }
    }
}

/// The name an administrator knows for a scope attribute (the Entra admin center's label); the
/// Graph property name ([`ScopeAttribute::as_str`]) is shown beside it as a hint.
pub fn attribute_label(attribute: ScopeAttribute) -> &'static str {
    match attribute {
        ScopeAttribute::DisplayName => "Display name",
        ScopeAttribute::UserPrincipalName => "User principal name",
        ScopeAttribute::Mail => "Email",
        ScopeAttribute::GivenName => "First name",
        ScopeAttribute::Surname => "Last name",
        ScopeAttribute::JobTitle => "Job title",
        ScopeAttribute::Department => "Department",
        ScopeAttribute::OfficeLocation => "Office location",
        ScopeAttribute::CompanyName => "Company name",
        ScopeAttribute::EmployeeId => "Employee ID",
        ScopeAttribute::City => "City",
        ScopeAttribute::Country => "Country or region",
        ScopeAttribute::UserType => "Account type (Member or Guest)",
    }
}

/// The attribute's name inside a sentence ("whose job title contains …").
pub fn attribute_in_sentence(attribute: ScopeAttribute) -> String {
    match attribute {
        // Names that are not common nouns keep their capitals.
        ScopeAttribute::EmployeeId => "employee ID".into(),
        ScopeAttribute::UserType => "account type".into(),
        other => attribute_label(other).to_lowercase(),
    }
}

/// The operator as a person reads it.
pub fn operator_text(operator: ScopeOperator) -> &'static str {
    match operator {
        ScopeOperator::Equals => "equals",
        ScopeOperator::NotEquals => "does not equal",
        ScopeOperator::Contains => "contains",
        ScopeOperator::NotContains => "does not contain",
        ScopeOperator::StartsWith => "starts with",
        ScopeOperator::EndsWith => "ends with",
    }
}

/// A rule in words: `department contains “support”`.
pub fn rule_text(rule: &ScopeRule) -> String {
    format!(
        "{} {} “{}”",
        attribute_in_sentence(rule.attribute),
        operator_text(rule.operator),
        rule.value
    )
}

/// The rules in one sentence part: `a, b and c`.
pub fn rules_text(rules: &[ScopeRule]) -> String {
    let parts: Vec<String> = rules.iter().map(rule_text).collect();
    match parts.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// A hint for the value field that fits the attribute.
fn value_hint(attribute: ScopeAttribute) -> &'static str {
    match attribute {
        ScopeAttribute::UserType => "Member or Guest",
        ScopeAttribute::Mail | ScopeAttribute::UserPrincipalName => "e.g. @contoso.com",
        ScopeAttribute::Country => "e.g. Germany",
        ScopeAttribute::City | ScopeAttribute::OfficeLocation => "e.g. Berlin",
        _ => "e.g. Support (any case)",
    }
}

/// The criteria rows with add and remove; the first row's widgets are labelled "Attribute",
/// "Operator" and "Term", the others' "Attribute 2", "Operator 2", "Term 2" and so on.
pub fn criteria_ui(ui: &mut Ui, criteria: &mut Vec<Criterion>) {
    if criteria.is_empty() {
        criteria.push(Criterion::default());
    }
    let mut remove = None;
    let count = criteria.len();
    egui::Grid::new("scope-criteria")
        .num_columns(5)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            for (index, criterion) in criteria.iter_mut().enumerate() {
                let n = index + 1;
                let suffix = if n == 1 {
                    String::new()
                } else {
                    format!(" {n}")
                };
                ui.label(if n == 1 { "Where" } else { "and" });
                ComboBox::from_id_salt(("scope-attribute", index))
                    .selected_text(attribute_label(criterion.attribute))
                    .width(210.0)
                    .show_ui(ui, |ui| {
                        for &attribute in ScopeAttribute::ALL {
                            ui.selectable_value(
                                &mut criterion.attribute,
                                attribute,
                                attribute_label(attribute),
                            )
                            .on_hover_text(format!("Graph property: {attribute}"));
                        }
                    })
                    .response
                    .accessible_name(format!("Attribute{suffix}"))
                    .on_hover_text(format!("Graph property: {}", criterion.attribute));
                ComboBox::from_id_salt(("scope-operator", index))
                    .selected_text(operator_text(criterion.operator))
                    .width(130.0)
                    .show_ui(ui, |ui| {
                        for &operator in ScopeOperator::ALL {
                            ui.selectable_value(
                                &mut criterion.operator,
                                operator,
                                operator_text(operator),
                            );
                        }
                    })
                    .response
                    .accessible_name(format!("Operator{suffix}"));
                ui.add(
                    TextEdit::singleline(&mut criterion.value)
                        .hint_text(value_hint(criterion.attribute))
                        .desired_width(220.0),
                )
                .accessible_name(format!("Term{suffix}"));
                ui.horizontal(|ui| {
                    ui.weak(criterion.attribute.as_str())
                        .on_hover_text("The Graph property this criterion tests");
                    // One empty row always stays: it stands for "every member".
                    if count > 1 || !criterion.value.is_empty() {
                        let button = ui
                            .add(Button::new("Remove").small())
                            .accessible_name(format!("Remove criterion {n}"))
                            .on_hover_text("Remove this criterion");
                        if button.clicked() {
                            remove = Some(index);
                        }
                    }
                });
                ui.end_row();
            }
        });
    if let Some(index) = remove {
        criteria.remove(index);
        if criteria.is_empty() {
            criteria.push(Criterion::default());
        }
    }
    ui.horizontal(|ui| {
        if ui.button("+ Add a criterion").clicked() {
            criteria.push(Criterion::default());
        }
        if criteria.iter().filter(|c| c.rule().is_some()).count() > 1 {
            ui.weak("A user must match every criterion.");
        }
    });
}

/// The guests switch, said plainly: whether guest (B2B) accounts of the paired groups are
/// synchronized, and how many of the matching members that concerns.
pub fn guests_ui(ui: &mut Ui, include_guests: &mut bool, guests: usize) {
    ui.horizontal(|ui| {
        ui.checkbox(include_guests, "Include guests")
            .on_hover_text("policy.include_guests: guest (B2B) accounts have Account type Guest");
        let text = match (*include_guests, guests) {
            (true, 0) => "Guests are included (no matching member is a guest).".to_owned(),
            (true, 1) => "Guests are included: 1 matching member is a guest.".to_owned(),
            (true, n) => format!("Guests are included: {n} matching members are guests."),
            (false, 0) => "Guests are left out (no matching member is a guest).".to_owned(),
            (false, 1) => "Guests are left out: 1 matching guest is not synchronized.".to_owned(),
            (false, n) => format!("Guests are left out: {n} matching guests are not synchronized."),
        };
        ui.label(RichText::new(text).strong());
    });
}
