//! `plan()` on in-memory snapshots built from a synthetic tenant: the first sync and a steady
//! state, with the default mapping and with 15 `[[mappings]]`.

use super::*;

// ---------------------------------------------------------------------------------------------
// Snapshots built in memory from a synthetic tenant (what the readers would return).

pub(crate) fn settings_for(synth: &Synth, extra: &str) -> Settings {
    let text = format!(
        "version = 1\n[entra]\ntenant = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"env:X\"\n\
         [target]\nurl = \"http://127.0.0.1:1/scim/v2\"\ntoken = \"env:Y\"\n{}\n{extra}",
        synth::DOMAIN,
        synth::CLIENT_ID,
        synth.pairs_toml()
    );
    Settings::from_file(&parse_str(&text).expect("the bench config is valid"))
}

pub(crate) fn source_snapshot(synth: &Synth) -> SourceSnapshot {
    let users: HashMap<&str, &serde_json::Map<String, Value>> = synth
        .fixture
        .users
        .iter()
        .map(|u| (u["id"].as_str().unwrap(), u))
        .collect();
    let groups: HashMap<&str, &serde_json::Map<String, Value>> = synth
        .fixture
        .groups
        .iter()
        .map(|g| (g["id"].as_str().unwrap(), g))
        .collect();
    let mut snapshot = SourceSnapshot::default();
    for pair in &synth.pairs {
        let mut members = BTreeSet::new();
        let mut visited = HashSet::new();
        let mut queue = vec![pair.entra_group_id.as_str()];
        while let Some(g) = queue.pop() {
            if !visited.insert(g) {
                continue;
            }
            for m in groups[g]["members"].as_array().unwrap() {
                let m = m.as_str().unwrap();
                if let Some(user) = users.get(m) {
                    members.insert(m.to_owned());
                    snapshot.users.entry(m.to_owned()).or_insert_with(|| {
                        let entra: EntraUser =
                            serde_json::from_value(Value::Object((*user).clone())).unwrap();
                        entra.into()
                    });
                } else if pair.nested && groups.contains_key(m) {
                    queue.push(m);
                }
            }
        }
        let g = groups[pair.entra_group_id.as_str()];
        snapshot.groups.insert(
            pair.entra_group_id.clone(),
            SourceGroup {
                id: pair.entra_group_id.clone(),
                display_name: pair.entra_group_name.clone(),
                created: g["createdDateTime"].as_str().map(str::to_owned),
                members,
            },
        );
    }
    snapshot
}

pub(crate) fn target_snapshot(synth: &Synth) -> TargetSnapshot {
    let mut snapshot = TargetSnapshot::default();
    for user in &synth.seed.users {
        let user: TargetUser = ScimUser::from_json(user).unwrap().into();
        snapshot.users.insert(user.id.clone(), user);
    }
    for pair in &synth.pairs {
        snapshot.groups.insert(
            pair.target_group_id.clone(),
            TargetGroup {
                id: pair.target_group_id.clone(),
                display_name: pair.target_group_name.clone(),
                members: BTreeSet::new(),
            },
        );
    }
    snapshot
}

/// The state after the first sync applied in full: every created or linked user in the target
/// with its mapped values, in its group, and linked.
pub(crate) fn after_first_sync(
    first: &adsync::sync::Plan,
    target: &TargetSnapshot,
) -> (TargetSnapshot, Links) {
    let mut target = target.clone();
    let mut links = Links::new();
    for (n, action) in first.actions.iter().enumerate() {
        if !matches!(action.kind, ActionKind::Create | ActionKind::Link) {
            continue;
        }
        let ex = &action.execution;
        let desired = ex.desired().unwrap();
        let id = action
            .target_user_id
            .clone()
            .unwrap_or_else(|| format!("created-{n:06}"));
        target.users.insert(
            id.clone(),
            TargetUser {
                id: id.clone(),
                external_id: Some(desired.external_id.clone()),
                user_name: desired.user_name.clone(),
                emails: vec![desired.emails.clone()],
                active: true,
                given_name: desired.given_name.clone(),
                family_name: desired.family_name.clone(),
                display_name: desired.display_name.clone(),
                phone: desired.phone.clone(),
                title: desired.title.clone(),
                department: desired.department.clone(),
                employee_number: desired.employee_number.clone(),
                extra: desired.extra.clone(),
                roles: desired.roles.clone(),
                held: Default::default(),
            },
        );
        for g in &ex.add_to {
            target
                .groups
                .get_mut(&**g)
                .unwrap()
                .members
                .insert(id.clone());
        }
        links.insert(
            action.entra_id.clone(),
            Link {
                entra_id: action.entra_id.clone(),
                target_id: id,
                group: ex.record_group.clone().flatten().map(|g| g.to_string()),
                groups_added: BTreeSet::new(),
                values_hash: ex.values_hash.clone(),
                disabled_by_adsync: false,
                roles_given: desired.roles.iter().cloned().collect(),
                manual: None,
            },
        );
    }
    (target, links)
}

/// Ten in-scope users with a new job title.
pub(crate) fn change_ten(source: &SourceSnapshot, links: &Links) -> SourceSnapshot {
    let mut source = source.clone();
    let ids: Vec<String> = links
        .keys()
        .step_by(links.len() / 10)
        .take(10)
        .cloned()
        .collect();
    for id in ids {
        let user: &mut SourceUser = source.users.get_mut(&id).unwrap();
        user.job_title =
            Some(format!("{} (acting)", user.job_title.as_deref().unwrap_or("")).into());
    }
    source
}

// ---------------------------------------------------------------------------------------------
// 1. plan()

/// Plans `runs` times: the last plan, and each run's wall time (ms), thread CPU time (ms) and
/// peak bytes allocated (MiB).
pub(crate) fn plan_runs(
    input: PlanInput<'_>,
    runs: usize,
) -> (adsync::sync::Plan, Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut times, mut cpus, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        let cpu0 = thread_cpu();
        let (p, t, peak) = measured(|| plan(input).unwrap());
        cpus.push((thread_cpu() - cpu0).as_secs_f64() * 1000.0);
        times.push(t.as_secs_f64() * 1000.0);
        peaks.push(mib(peak));
        drop(last.replace(p));
    }
    (last.expect("at least one run"), times, cpus, peaks)
}

pub(crate) fn bench_plan(args: &Args) {
    println!();
    println!("== plan(): pure, in-process ({} runs each) ==", args.runs);
    for (users, groups) in [(1_000, 100), (10_000, 2_000), (100_000, 20_000)] {
        let spec = SynthSpec {
            users,
            groups,
            seed: args.seed,
        };
        let (synth, gen_time, _) = measured(|| synth::generate(spec));
        let settings = settings_for(&synth, "");
        let source = source_snapshot(&synth);
        let target = target_snapshot(&synth);
        let none = Links::new();
        let input = PlanInput {
            settings: &settings,
            source: &source,
            target: &target,
            links: &none,
        };
        let (first, times, cpus, peaks) = plan_runs(input, args.runs);
        let s = &first.summary;
        println!(
            "{users:>7} users / {groups:>6} groups (generated in {:.2} s; {} in scope):",
            gen_time.as_secs_f64(),
            source.users.len()
        );
        println!(
            "  first sync   : wall {}; CPU {}; peak alloc {}  [{} create, {} link, {} skip]",
            fmt_stat(&times, "ms", 1),
            fmt_stat(&cpus, "ms", 1),
            fmt_stat(&peaks, "MiB", 1),
            s.create,
            s.link,
            s.skip
        );
        // Where a first sync's memory goes besides plan(): the JSON report `sync --format json`
        // prints, and the members as JSON values (what the Graph client holds before parsing).
        let ((), json_time, json_peak) = measured(|| drop(first.to_json()));
        let member_json: Vec<String> = synth
            .fixture
            .users
            .iter()
            .take(10_000)
            .map(|u| serde_json::to_string(u).unwrap())
            .collect();
        let (values, _, values_peak) = measured(|| {
            member_json
                .iter()
                .map(|t| serde_json::from_str::<Value>(t).unwrap())
                .collect::<Vec<_>>()
        });
        drop(values);
        let per_user = values_peak as f64 / member_json.len().max(1) as f64;
        println!(
            "  report JSON  : to_json() {:.0} ms, peak alloc {:.1} MiB; members as JSON values \
             {:.0} B/user (over 10k users)",
            json_time.as_secs_f64() * 1000.0,
            mib(json_peak),
            per_user
        );
        // A breakdown of one part every plan pays for every in-scope user: the mapping and the
        // hash of the mapped values (R4).
        let policy = settings.policy.username;
        let cpu0 = thread_cpu();
        let desired: Vec<_> = source
            .users
            .values()
            .map(|u| adsync::sync::desired_user(u, policy))
            .collect();
        let cpu_map = thread_cpu() - cpu0;
        let cpu0 = thread_cpu();
        let hashes: usize = desired
            .iter()
            .map(|d| adsync::sync::values_hash(d).len())
            .sum();
        let cpu_hash = thread_cpu() - cpu0;
        println!(
            "  breakdown    : desired_user() for all {} users {:.0} ms CPU, values_hash() {:.0} ms CPU ({} hex chars)",
            desired.len(),
            cpu_map.as_secs_f64() * 1000.0,
            cpu_hash.as_secs_f64() * 1000.0,
            hashes
        );
        drop(desired);
        let (target2, links) = after_first_sync(&first, &target);
        let changed = change_ten(&source, &links);
        let input = PlanInput {
            settings: &settings,
            source: &changed,
            target: &target2,
            links: &links,
        };
        let (last, times, cpus, peaks) = plan_runs(input, args.runs);
        let s = last.summary;
        println!(
            "  steady state : wall {}; CPU {}; peak alloc {}  [{} update, {} unchanged]",
            fmt_stat(&times, "ms", 1),
            fmt_stat(&cpus, "ms", 1),
            fmt_stat(&peaks, "MiB", 1),
            s.update,
            s.unchanged
        );
        drop((first, target2, links, changed));

        // The same with 15 mappings: the users carry the extra sources they read.
        let settings = settings_for(&synth, FIFTEEN_MAPPINGS);
        assert_eq!(settings.mappings.len(), 15);
        let mut source = source;
        for (n, u) in source.users.values_mut().enumerate() {
            if n % 3 != 0 {
                u.extra.insert(
                    "mobilePhone".into(),
                    format!("+1 206 555 {:04}", n % 10_000),
                );
            }
            u.extra.insert(
                "employeeOrgData.costCenter".into(),
                format!("CC-{}", 1000 + n % 40),
            );
            u.extra.insert(
                "onPremisesExtensionAttributes.extensionAttribute1".into(),
                format!("B-{n}"),
            );
        }
        let input = PlanInput {
            settings: &settings,
            source: &source,
            target: &target,
            links: &none,
        };
        let (first, times, cpus, peaks) = plan_runs(input, args.runs);
        println!(
            "  15 mappings, first sync   : wall {}; CPU {}; peak alloc {}  [{} create]",
            fmt_stat(&times, "ms", 1),
            fmt_stat(&cpus, "ms", 1),
            fmt_stat(&peaks, "MiB", 1),
            first.summary.create,
        );
        let (target2, links) = after_first_sync(&first, &target);
        drop(first);
        let changed = change_ten(&source, &links);
        let input = PlanInput {
            settings: &settings,
            source: &changed,
            target: &target2,
            links: &links,
        };
        let (last, times, cpus, peaks) = plan_runs(input, args.runs);
        println!(
            "  15 mappings, steady state : wall {}; CPU {}; peak alloc {}  [{} update, {} unchanged]",
            fmt_stat(&times, "ms", 1),
            fmt_stat(&cpus, "ms", 1),
            fmt_stat(&peaks, "MiB", 1),
            last.summary.update,
            last.summary.unchanged
        );
    }
}

/// 15 `[[mappings]]` of every kind (source, constant, template, transform, default, typed
/// multi-valued paths, the enterprise and a custom extension) for the `plan` case.
pub(crate) const FIFTEEN_MAPPINGS: &str = r#"
[[mappings]]
target = "phoneNumbers[type eq \"mobile\"].value"
source = "mobilePhone"
[[mappings]]
target = "costCenter"
source = "employeeOrgData.costCenter"
default = "CC-0"
[[mappings]]
target = "division"
value = "Operations"
[[mappings]]
target = "organization"
source = "companyName"
[[mappings]]
target = "userType"
value = "Employee"
[[mappings]]
target = "nickName"
template = "{givenName}.{surname}"
transform = "lower"
[[mappings]]
target = "addresses[type eq \"work\"].locality"
source = "city"
[[mappings]]
target = "addresses[type eq \"work\"].country"
source = "country"
[[mappings]]
target = "urn:example:params:scim:schemas:extension:acme:2.0:User:badge"
source = "onPremisesExtensionAttributes.extensionAttribute1"
[[mappings]]
target = "preferredLanguage"
value = "en-US"
[[mappings]]
target = "locale"
source = "usageLocation"
default = "US"
[[mappings]]
target = "title"
source = "jobTitle"
transform = "upper"
[[mappings]]
target = "displayName"
template = "{surname}, {givenName}"
[[mappings]]
target = "name.formatted"
template = "{givenName} {surname}"
when = "create"
[[mappings]]
target = "timezone"
value = "Europe/Berlin"
"#;
