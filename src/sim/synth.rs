//! A synthetic tenant at any scale, for benchmarks: `N` users (members and guests, some disabled,
//! with realistic names, departments, titles, phones and cities) in `M` groups with nesting, a
//! matching SCIM application seed (the paired target groups, some users already there to be
//! linked by email, some the application's own), and the pairs a config would hold.
//!
//! Deterministic: the same `(users, groups, seed)` always gives the same tenant, byte for byte
//! (a private SplitMix64, so no dependency's algorithm can change it).
//!
//! Shape, so that benchmarks know what they measure:
//! - `All Staff` (paired, nested) holds one group per department, each department holds its team
//!   groups, and every user is a direct member of one team: the nested pair reaches every user
//!   through three levels.
//! - `Managers` (paired, direct, order 1) holds every user whose title is a manager's.
//! - `External Partners` (paired, direct) holds the guests.
//! - The other groups are project groups: a few to a few dozen users each, sometimes a team
//!   group or a device; they are not paired, and are there to make the tenant the right size.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::entra::{AppFixture, Fixture, SecretFixture, TenantFixture};
use super::scim::{Seed, SeedGroup};

/// The tenant's sign-in domain and mail domain.
pub const DOMAIN: &str = "northwindtraders.onmicrosoft.com";
pub const MAIL_DOMAIN: &str = "northwindtraders.com";
/// The synthetic app registration (benchmark-only credentials: they open only the simulator).
pub const CLIENT_ID: &str = "5e7a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b";
pub const CLIENT_SECRET: &str = "bench-only~Northwind.Synthetic.Secret";
/// The SCIM application's bearer token.
pub const APP_TOKEN: &str = "bench-app-token";

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthSpec {
    pub users: usize,
    pub groups: usize,
    pub seed: u64,
}

impl SynthSpec {
    pub fn new(users: usize, groups: usize) -> Self {
        Self {
            users,
            groups,
            seed: 8,
        }
    }
}

/// One pair, as a config's `[[pairs]]` would hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthPair {
    pub entra_group_id: String,
    pub entra_group_name: String,
    pub target_group_id: String,
    pub target_group_name: String,
    pub order: u32,
    pub nested: bool,
}

/// Counts of what was generated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SynthStats {
    pub users: usize,
    pub guests: usize,
    pub disabled: usize,
    pub managers: usize,
    pub without_mail: usize,
    pub groups: usize,
    /// Group-in-group memberships.
    pub nested_links: usize,
    /// Direct memberships of every kind.
    pub memberships: usize,
    pub devices: usize,
    /// Target users seeded to match tenant users by email (R2).
    pub app_matching: usize,
    /// Target users that belong to the application alone (R8).
    pub app_only: usize,
}

/// A generated tenant and application.
#[derive(Clone, Debug)]
pub struct Synth {
    pub spec: SynthSpec,
    pub fixture: Fixture,
    pub seed: Seed,
    pub pairs: Vec<SynthPair>,
    pub stats: SynthStats,
}

/// SplitMix64: tiny, fast, and fixed forever.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True with probability `per_mille`/1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A lowercase v4-shaped GUID.
    fn guid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    fn date(&mut self, from_year: usize, to_year: usize) -> String {
        format!(
            "{}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            from_year + self.below(to_year - from_year + 1),
            1 + self.below(12),
            1 + self.below(28),
            7 + self.below(12),
            self.below(60),
            self.below(60)
        )
    }
}

const FIRST: &[&str] = &[
    "Adele", "Aiko", "Alex", "Amara", "Ana", "Anders", "Anika", "Arjun", "Ben", "Bianca", "Carla",
    "Carlos", "Chen", "Chloe", "Dana", "Daniel", "Diego", "Dmitri", "Elena", "Emil", "Emma",
    "Erin", "Fatima", "Felix", "Fiona", "Gabriel", "Grace", "Hana", "Hassan", "Hugo", "Ines",
    "Irene", "Isaac", "Ivan", "Jade", "Jamal", "Javier", "Jonas", "Julia", "Kai", "Karin", "Kenji",
    "Laila", "Leo", "Lena", "Lidia", "Luca", "Lucia", "Malik", "Marta", "Maya", "Megan", "Miguel",
    "Mina", "Nadia", "Nestor", "Nina", "Nora", "Olga", "Omar", "Oscar", "Patti", "Paulo",
    "Pradeep", "Priya", "Quinn", "Rafael", "Raj", "Rosa", "Ruth", "Sam", "Sara", "Sofia", "Sven",
    "Tariq", "Tess", "Theo", "Uma", "Valeria", "Victor", "Wei", "Xavier", "Yara", "Yusuf", "Zara",
    "Zoe",
];

const LAST: &[&str] = &[
    "Alvarez", "Andersen", "Becker", "Bianchi", "Brown", "Chen", "Costa", "Diaz", "Dubois",
    "Eriksen", "Evans", "Fischer", "Fontaine", "Garcia", "Gupta", "Hansen", "Horvat", "Ibrahim",
    "Ito", "Jensen", "Kim", "Kowalski", "Larsen", "Lopez", "Martin", "Moreau", "Muller",
    "Nakamura", "Nguyen", "Novak", "Okafor", "Olsen", "Patel", "Petrov", "Quinn", "Rossi",
    "Santos", "Sato", "Schmidt", "Silva", "Singh", "Smith", "Tanaka", "Umar", "Varga", "Vance",
    "Weber", "Wilber", "Xu", "Yamamoto", "Young", "Zhang", "Zimmer",
];

/// Departments with their titles; the last title of each is a manager's.
const DEPARTMENTS: &[(&str, &[&str])] = &[
    (
        "Customer Support",
        &[
            "Support Agent",
            "Senior Support Agent",
            "Support Lead",
            "Support Manager",
        ],
    ),
    (
        "Sales",
        &[
            "Sales Representative",
            "Account Executive",
            "Sales Engineer",
            "Sales Manager",
        ],
    ),
    (
        "Engineering",
        &[
            "Software Engineer",
            "Senior Software Engineer",
            "QA Engineer",
            "Engineering Manager",
        ],
    ),
    (
        "Marketing",
        &[
            "Marketing Specialist",
            "Content Writer",
            "Marketing Manager",
        ],
    ),
    (
        "Finance",
        &["Accountant", "Financial Analyst", "Finance Manager"],
    ),
    (
        "Human Resources",
        &["HR Generalist", "Recruiter", "HR Manager"],
    ),
    (
        "IT",
        &[
            "Helpdesk Technician",
            "Systems Administrator",
            "Security Analyst",
            "IT Manager",
        ],
    ),
    (
        "Operations",
        &[
            "Warehouse Associate",
            "Logistics Coordinator",
            "Operations Manager",
        ],
    ),
    (
        "Legal",
        &["Paralegal", "Corporate Counsel", "Legal Manager"],
    ),
    (
        "Field Services",
        &[
            "Field Technician",
            "Field Engineer",
            "Field Services Manager",
        ],
    ),
    (
        "Product",
        &["Product Designer", "Product Owner", "Product Manager"],
    ),
    (
        "Research",
        &["Research Scientist", "Lab Technician", "Research Manager"],
    ),
];

/// (city, country, usage location, phone prefix, office code).
const CITIES: &[(&str, &str, &str, &str, &str)] = &[
    ("Seattle", "United States", "US", "+1 206 555", "SEA"),
    ("Austin", "United States", "US", "+1 512 555", "AUS"),
    ("Chicago", "United States", "US", "+1 312 555", "CHI"),
    ("Toronto", "Canada", "CA", "+1 416 555", "YYZ"),
    ("Dublin", "Ireland", "IE", "+353 1 555", "DUB"),
    ("London", "United Kingdom", "GB", "+44 20 7946", "LON"),
    ("Munich", "Germany", "DE", "+49 89 5550", "MUC"),
    ("Paris", "France", "FR", "+33 1 5550", "PAR"),
    ("Madrid", "Spain", "ES", "+34 91 555", "MAD"),
    ("Warsaw", "Poland", "PL", "+48 22 555", "WAW"),
    ("Singapore", "Singapore", "SG", "+65 6555", "SIN"),
    ("Tokyo", "Japan", "JP", "+81 3 5555", "TYO"),
    ("Sydney", "Australia", "AU", "+61 2 5550", "SYD"),
    ("São Paulo", "Brazil", "BR", "+55 11 5555", "GRU"),
];

const PARTNERS: &[(&str, &str)] = &[
    ("fabrikam.com", "Fabrikam"),
    ("contoso.com", "Contoso"),
    ("adatum.com", "Adatum"),
    ("litwareinc.com", "Litware"),
    ("woodgrovebank.com", "Woodgrove Bank"),
];

const PROJECT_WORDS: &[&str] = &[
    "Aurora", "Beacon", "Cascade", "Delta", "Ember", "Falcon", "Glacier", "Harbor", "Horizon",
    "Ivory", "Juniper", "Keystone", "Lantern", "Meridian", "Nimbus", "Orion", "Pioneer", "Quartz",
    "Redwood", "Summit", "Tundra", "Vertex", "Willow", "Zephyr",
];

const PROJECT_KINDS: &[&str] = &[
    "Project",
    "Working Group",
    "Committee",
    "Distribution List",
    "Rollout",
    "Pilot",
];

/// Generates the tenant, the application seed and the pairs.
pub fn generate(spec: SynthSpec) -> Synth {
    let mut rng = Rng(spec.seed ^ 0x000A_D51C_0000 ^ ((spec.users as u64) << 20));
    let mut stats = SynthStats::default();
    let departments = DEPARTMENTS.len();
    // Fixed groups: All Staff, Managers, External Partners, one per department; then teams and
    // projects share what is left (at least one team per department).
    let fixed = 3 + departments;
    let flexible = spec.groups.saturating_sub(fixed);
    let teams = (flexible / 4).max(departments);
    let projects = flexible.saturating_sub(teams);

    // Users.
    let mut users: Vec<Map<String, Value>> = Vec::with_capacity(spec.users);
    let mut aliases: HashMap<String, u32> = HashMap::new();
    let mut user_dept = Vec::with_capacity(spec.users);
    let mut managers = Vec::new();
    let mut guests = Vec::new();
    let mut employee = 100_000u64;
    for _ in 0..spec.users {
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let dept = rng.below(departments);
        let (dept_name, titles) = DEPARTMENTS[dept];
        let guest = rng.chance(20);
        let manager = !guest && rng.chance(60);
        let title = if manager {
            titles[titles.len() - 1]
        } else {
            titles[rng.below(titles.len() - 1)]
        };
        let base = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
        let n = aliases.entry(base.clone()).or_insert(0);
        *n += 1;
        let alias = if *n == 1 { base } else { format!("{base}{n}") };
        let id = rng.guid();
        let enabled = !rng.chance(30);
        let mut user = Map::new();
        user.insert("id".into(), json!(id));
        if guest {
            let (partner, company) = PARTNERS[rng.below(PARTNERS.len())];
            user.insert(
                "userPrincipalName".into(),
                json!(format!("{alias}_{partner}#EXT#@{DOMAIN}")),
            );
            user.insert("mail".into(), json!(format!("{alias}@{partner}")));
            user.insert("givenName".into(), json!(first));
            user.insert("surname".into(), json!(last));
            user.insert(
                "displayName".into(),
                json!(format!("{first} {last} ({company})")),
            );
            user.insert("businessPhones".into(), json!([]));
            user.insert("jobTitle".into(), json!("Partner Consultant"));
            user.insert("department".into(), json!(dept_name));
            user.insert("employeeId".into(), Value::Null);
            user.insert("officeLocation".into(), Value::Null);
            user.insert("companyName".into(), json!(company));
            user.insert("city".into(), Value::Null);
            user.insert("country".into(), Value::Null);
            user.insert("userType".into(), json!("Guest"));
            user.insert("creationType".into(), json!("Invitation"));
            stats.guests += 1;
            guests.push(id.clone());
        } else {
            let (city, country, usage, phone, office) = CITIES[rng.below(CITIES.len())];
            employee += 1 + rng.below(7) as u64;
            let upn = format!("{alias}@{MAIL_DOMAIN}");
            let mail = if rng.chance(40) {
                stats.without_mail += 1;
                Value::Null
            } else {
                json!(upn)
            };
            user.insert("userPrincipalName".into(), json!(upn));
            user.insert("mail".into(), mail);
            user.insert("givenName".into(), json!(first));
            user.insert("surname".into(), json!(last));
            user.insert("displayName".into(), json!(format!("{first} {last}")));
            let phones = if rng.chance(900) {
                json!([format!("{phone} {:04}", rng.below(10_000))])
            } else {
                json!([])
            };
            user.insert("businessPhones".into(), phones);
            user.insert("jobTitle".into(), json!(title));
            user.insert("department".into(), json!(dept_name));
            user.insert("employeeId".into(), json!(employee.to_string()));
            user.insert(
                "officeLocation".into(),
                json!(format!(
                    "{office}-{}/{:03}",
                    1 + rng.below(4),
                    rng.below(400)
                )),
            );
            user.insert("companyName".into(), json!("Northwind Traders"));
            user.insert("city".into(), json!(city));
            user.insert("country".into(), json!(country));
            user.insert("usageLocation".into(), json!(usage));
            user.insert("userType".into(), json!("Member"));
            if manager {
                stats.managers += 1;
                managers.push(id.clone());
            }
        }
        user.insert("accountEnabled".into(), json!(enabled));
        user.insert("createdDateTime".into(), json!(rng.date(2015, 2025)));
        if !enabled {
            stats.disabled += 1;
        }
        user_dept.push(dept);
        users.push(user);
    }

    // Devices: a few, as members of project groups (the members cast must leave them out).
    let device_count = (spec.users / 200).max(2);
    let devices: Vec<Map<String, Value>> = (0..device_count)
        .map(|i| {
            let mut d = Map::new();
            d.insert("id".into(), json!(rng.guid()));
            d.insert("displayName".into(), json!(format!("KIOSK-{i:04}")));
            d.insert("accountEnabled".into(), json!(true));
            d.insert("deviceId".into(), json!(rng.guid()));
            d.insert("operatingSystem".into(), json!("Windows"));
            d
        })
        .collect();
    stats.devices = devices.len();

    // Groups.
    let group = |rng: &mut Rng, name: String, description: String, members: Vec<String>| {
        let mut g = Map::new();
        g.insert("id".into(), json!(rng.guid()));
        g.insert("displayName".into(), json!(name));
        g.insert("description".into(), json!(description));
        g.insert("createdDateTime".into(), json!(rng.date(2012, 2024)));
        g.insert("groupTypes".into(), json!([]));
        g.insert("mailEnabled".into(), json!(false));
        g.insert("securityEnabled".into(), json!(true));
        g.insert(
            "mailNickname".into(),
            json!(name.to_lowercase().replace(' ', "-")),
        );
        g.insert("members".into(), json!(members));
        g
    };
    let id_of = |g: &Map<String, Value>| g["id"].as_str().unwrap_or_default().to_owned();

    // Teams: each department gets teams in proportion; each user joins one team of its department.
    let mut team_dept = Vec::with_capacity(teams);
    for t in 0..teams {
        team_dept.push(t % departments);
    }
    let mut teams_of: Vec<Vec<usize>> = vec![Vec::new(); departments];
    for (t, d) in team_dept.iter().enumerate() {
        teams_of[*d].push(t);
    }
    let mut team_members: Vec<Vec<String>> = vec![Vec::new(); teams];
    for (u, dept) in user_dept.iter().enumerate() {
        let options = &teams_of[*dept];
        let t = options[rng.below(options.len())];
        team_members[t].push(id_of(&users[u]));
    }
    let mut team_groups = Vec::with_capacity(teams);
    for (t, members) in team_members.into_iter().enumerate() {
        let dept = DEPARTMENTS[team_dept[t]].0;
        let n = t / departments + 1;
        team_groups.push(group(
            &mut rng,
            format!("{dept} Team {n:03}"),
            format!("{dept}: team {n}"),
            members,
        ));
    }
    let mut dept_groups = Vec::with_capacity(departments);
    for (d, (name, _)) in DEPARTMENTS.iter().enumerate() {
        let members = teams_of[d]
            .iter()
            .map(|t| id_of(&team_groups[*t]))
            .collect();
        dept_groups.push(group(
            &mut rng,
            format!("Dept - {name}"),
            format!("Everyone in {name} (nested teams)"),
            members,
        ));
    }
    let all_staff = group(
        &mut rng,
        "All Staff".into(),
        "Every department (nested)".into(),
        dept_groups.iter().map(id_of).collect(),
    );
    let managers_group = group(
        &mut rng,
        "Managers".into(),
        "People managers".into(),
        managers,
    );
    let partners_group = group(
        &mut rng,
        "External Partners".into(),
        "Guest accounts from partner companies".into(),
        guests,
    );
    let mut project_groups = Vec::with_capacity(projects);
    for p in 0..projects {
        let size = 3 + rng.below(40);
        let mut members: Vec<String> = Vec::with_capacity(size + 2);
        let mut taken = std::collections::HashSet::new();
        for _ in 0..size {
            let u = rng.below(users.len().max(1));
            if !users.is_empty() && taken.insert(u) {
                members.push(id_of(&users[u]));
            }
        }
        if !team_groups.is_empty() && rng.chance(100) {
            members.push(id_of(&team_groups[rng.below(team_groups.len())]));
        }
        if rng.chance(50) {
            members.push(id_of(&devices[rng.below(devices.len())]));
        }
        let word = rng.pick(PROJECT_WORDS);
        let kind = rng.pick(PROJECT_KINDS);
        project_groups.push(group(
            &mut rng,
            format!("{kind} {word} {:05}", p + 1),
            format!("{kind} {word}"),
            members,
        ));
    }

    let pair_groups = [
        (&managers_group, "Managers", 1, false),
        (&all_staff, "Staff", 2, true),
        (&partners_group, "Partners", 3, false),
    ];
    let mut seed_groups = Vec::new();
    let mut pairs = Vec::new();
    for (n, (g, target, order, nested)) in pair_groups.iter().enumerate() {
        let target_id = format!("app-g-{:02}", n + 1);
        pairs.push(SynthPair {
            entra_group_id: id_of(g),
            entra_group_name: g["displayName"].as_str().unwrap_or_default().to_owned(),
            target_group_id: target_id.clone(),
            target_group_name: (*target).to_owned(),
            order: *order,
            nested: *nested,
        });
        seed_groups.push(SeedGroup {
            id: Some(target_id),
            display_name: (*target).to_owned(),
            external_id: None,
            members: Vec::new(),
        });
    }
    for (n, name) in ["Administrators", "Auditors (read-only)"]
        .iter()
        .enumerate()
    {
        seed_groups.push(SeedGroup {
            id: Some(format!("app-g-x{n}")),
            display_name: (*name).to_owned(),
            external_id: None,
            members: Vec::new(),
        });
    }

    let mut groups = Vec::with_capacity(spec.groups.max(fixed + teams));
    groups.push(all_staff);
    groups.push(managers_group);
    groups.push(partners_group);
    groups.extend(dept_groups);
    groups.extend(team_groups);
    groups.extend(project_groups);
    let group_ids: std::collections::HashSet<String> = groups.iter().map(id_of).collect();
    for g in &groups {
        for member in g["members"].as_array().into_iter().flatten() {
            stats.memberships += 1;
            if member.as_str().is_some_and(|m| group_ids.contains(m)) {
                stats.nested_links += 1;
            }
        }
    }

    // The application: about 2 % of the tenant's enabled members already there under their email
    // (no externalId: adsync links them, R2), and 0.5 % of its own (never touched, R8).
    let mut app_users = Vec::new();
    for (u, user) in users.iter().enumerate() {
        let enabled = user["accountEnabled"].as_bool() == Some(true);
        if !enabled || user["userType"] == "Guest" || u % 50 != 7 {
            continue;
        }
        let email = user["mail"]
            .as_str()
            .or(user["userPrincipalName"].as_str())
            .unwrap_or_default();
        app_users.push(json!({
            "id": format!("app-u-{:06}", app_users.len() + 1),
            "userName": email,
            "name": {"givenName": user["givenName"], "familyName": user["surname"]},
            "displayName": user["displayName"],
            "emails": [{"value": email, "type": "work", "primary": true}],
            "title": user["jobTitle"],
            "active": true,
        }));
        stats.app_matching += 1;
    }
    let own = (spec.users / 200).max(3);
    for n in 0..own {
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let name = format!(
            "{}.{}.{n}@app-local.example",
            first.to_lowercase(),
            last.to_lowercase()
        );
        app_users.push(json!({
            "id": format!("app-local-{n:05}"),
            "userName": name,
            "name": {"givenName": first, "familyName": last},
            "displayName": format!("{first} {last}"),
            "emails": [{"value": name, "type": "work", "primary": true}],
            "active": n % 7 != 0,
        }));
        stats.app_only += 1;
    }

    stats.users = users.len();
    stats.groups = groups.len();
    let fixture = Fixture {
        comment: Some(format!(
            "Synthetic tenant: {} users, {} groups, seed {} (adsync sim generate). \
             Benchmark-only credentials.",
            spec.users, spec.groups, spec.seed
        )),
        tenant: TenantFixture {
            id: "6b1d3c5e-7f90-4a1b-8c2d-3e4f5a6b7c8d".into(),
            domain: DOMAIN.into(),
            display_name: "Northwind Traders".into(),
            graph_resource: None,
            other_cloud_tenants: HashMap::new(),
        },
        apps: vec![AppFixture {
            client_id: CLIENT_ID.into(),
            display_name: "adsync (benchmark)".into(),
            secrets: vec![SecretFixture {
                id: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into(),
                value: CLIENT_SECRET.into(),
                expired: false,
            }],
            certificates: Vec::new(),
            roles: vec!["User.Read.All".into(), "GroupMember.Read.All".into()],
            enabled: true,
        }],
        users,
        groups,
        devices,
        service_principals: Vec::new(),
        contacts: Vec::new(),
    };
    let seed = Seed {
        token: Some(APP_TOKEN.into()),
        basic: None,
        max_results: Some(1000),
        users: app_users,
        groups: seed_groups,
        loose_user_names: false,
        no_patch_filters: false,
    };
    Synth {
        spec,
        fixture,
        seed,
        pairs,
        stats,
    }
}

impl Synth {
    /// How many distinct users each pair reaches (transitively for a nested pair), in the order
    /// of [`Synth::pairs`]: what a reader must page through at least.
    pub fn pair_user_counts(&self) -> Vec<usize> {
        let users: std::collections::HashSet<&str> = self
            .fixture
            .users
            .iter()
            .filter_map(|u| u["id"].as_str())
            .collect();
        let members: HashMap<&str, Vec<&str>> = self
            .fixture
            .groups
            .iter()
            .map(|g| {
                let list = g["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                (g["id"].as_str().unwrap_or_default(), list)
            })
            .collect();
        self.pairs
            .iter()
            .map(|pair| {
                let mut seen_users = std::collections::HashSet::new();
                let mut seen_groups = std::collections::HashSet::new();
                let mut queue = vec![pair.entra_group_id.as_str()];
                while let Some(group) = queue.pop() {
                    if !seen_groups.insert(group) {
                        continue;
                    }
                    for member in members.get(group).into_iter().flatten() {
                        if users.contains(member) {
                            seen_users.insert(*member);
                        } else if pair.nested && members.contains_key(member) {
                            queue.push(member);
                        }
                    }
                }
                seen_users.len()
            })
            .collect()
    }

    /// The least number of Graph list pages a full read of the pairs needs: every pair's user
    /// members in pages of 999 (Graph's largest), at least one page each.
    pub fn minimum_member_pages(&self) -> usize {
        self.pair_user_counts()
            .iter()
            .map(|n| n.div_ceil(999).max(1))
            .sum()
    }

    /// The `[[pairs]]` of a config for this tenant and application.
    pub fn pairs_toml(&self) -> String {
        let mut out = String::new();
        for p in &self.pairs {
            out.push_str(&format!(
                "[[pairs]]\nentra_group_id = \"{}\"\nentra_group_name = \"{}\"\n\
                 target_group_id = \"{}\"\ntarget_group_name = \"{}\"\norder = {}\nnested = {}\n\n",
                p.entra_group_id,
                p.entra_group_name,
                p.target_group_id,
                p.target_group_name,
                p.order,
                p.nested
            ));
        }
        out
    }

    /// Writes `tenant.json` (for `adsync sim entra --fixture`), `app.json` (for `adsync sim scim
    /// --seed`) and `pairs.toml` into `dir`, creating it.
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tenant = serde_json::to_vec(&self.fixture).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("tenant.json"), tenant)?;
        let app = serde_json::to_vec(&self.seed).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("app.json"), app)?;
        std::fs::write(dir.join("pairs.toml"), self.pairs_toml())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_spec_gives_the_same_tenant_and_another_seed_another() {
        let a = generate(SynthSpec::new(500, 60));
        let b = generate(SynthSpec::new(500, 60));
        let json = |s: &Synth| serde_json::to_string(&s.fixture).unwrap();
        assert_eq!(json(&a), json(&b));
        assert_eq!(a.stats, b.stats);
        let c = generate(SynthSpec {
            seed: 9,
            ..SynthSpec::new(500, 60)
        });
        assert_ne!(json(&a), json(&c));
    }

    #[test]
    fn counts_guests_disabled_and_nesting_are_as_asked() {
        let s = generate(SynthSpec::new(2_000, 200));
        assert_eq!(s.fixture.users.len(), 2_000);
        assert_eq!(s.fixture.groups.len(), 200);
        assert_eq!(s.stats.users, 2_000);
        assert_eq!(s.stats.groups, 200);
        let guests = s
            .fixture
            .users
            .iter()
            .filter(|u| u["userType"] == "Guest")
            .count();
        let disabled = s
            .fixture
            .users
            .iter()
            .filter(|u| u["accountEnabled"] == false)
            .count();
        assert_eq!(guests, s.stats.guests);
        assert_eq!(disabled, s.stats.disabled);
        assert!((10..=80).contains(&guests), "{guests} guests");
        assert!((20..=120).contains(&disabled), "{disabled} disabled");
        assert!(s.stats.nested_links > 12, "departments hold teams");
        // The nested pair reaches every user through All Staff → department → team.
        let counts = s.pair_user_counts();
        assert_eq!(counts[1], 2_000);
        assert_eq!(counts[0], s.stats.managers);
        assert_eq!(counts[2], s.stats.guests);
        assert_eq!(
            s.minimum_member_pages(),
            counts.iter().map(|n| n.div_ceil(999).max(1)).sum::<usize>()
        );
        // Unique UPNs and emails: no accidental duplicate-email skips (R9).
        let mut emails = std::collections::HashSet::new();
        for u in &s.fixture.users {
            let email = u["mail"]
                .as_str()
                .or(u["userPrincipalName"].as_str())
                .unwrap();
            assert!(emails.insert(email.to_lowercase()), "{email} twice");
        }
        // The application has users to link by email and users of its own.
        assert!(s.stats.app_matching > 10);
        assert!(s.stats.app_only >= 3);
    }

    #[test]
    fn both_simulators_load_what_it_writes() {
        let s = generate(SynthSpec::new(300, 40));
        let dir = tempfile::tempdir().unwrap();
        s.write(dir.path()).unwrap();
        let fixture = Fixture::from_file(&dir.path().join("tenant.json")).unwrap();
        assert_eq!(fixture.users.len(), 300);
        let seed = Seed::from_file(&dir.path().join("app.json")).unwrap();
        assert_eq!(seed.users.len(), s.seed.users.len());
        let pairs = std::fs::read_to_string(dir.path().join("pairs.toml")).unwrap();
        assert_eq!(pairs.matches("[[pairs]]").count(), 3);
    }
}
