#!/usr/bin/env python3
"""Writes assets/demo-tenant.json: the simulated tenant behind `adsync-setup --demo` and
`adsync sim entra`. Deterministic (fixed seed, name-based ids), so re-running it gives the same file.
The credentials in it are demo-only: they open nothing but the simulator."""

import json
import random
import uuid
from pathlib import Path

rng = random.Random(20261122)
NS = uuid.UUID("3f6c1d2e-8b7a-4c5d-9e0f-1a2b3c4d5e6f")
DOMAIN = "tailspintoys.onmicrosoft.com"
MAIL = "tailspintoys.com"


def oid(kind, name):
    return str(uuid.uuid5(NS, f"{kind}:{name}"))


FIRST = """Adele Alex Allan Ana Ben Carla Chen Dana Diego Elena Emil Erin Fatima Felix Grace Hana Hugo Irene
Ivan Jade Jamal Jonas Julia Kai Karin Leo Lena Lidia Luca Maya Megan Miguel Nadia Nestor Nora Omar Patti
Pradeep Priya Quinn Raj Rosa Sam Sara Sofia Tariq Tess Uma Victor Wei Yara Zoe""".split()
LAST = """Vance Wilber Brown Chen Diaz Evans Fischer Garcia Hansen Ito Jensen Kowalski Larsen Lopez Muller
Nakamura Novak Okafor Patel Quinn Rossi Sato Schmidt Silva Tanaka Umar Varga Weber Xu Young Zimmer
Alvarez Becker Costa Dubois Eriksen Fontaine Gupta Horvat Ibrahim""".split()
DEPTS = {
    "Support": ["Support Agent", "Support Agent", "Senior Support Agent", "Support Lead"],
    "Sales": ["Account Executive", "Sales Representative", "Sales Manager"],
    "Engineering": ["Software Engineer", "Senior Software Engineer", "QA Engineer", "Engineering Manager"],
    "Marketing": ["Marketing Specialist", "Content Writer", "Marketing Manager"],
    "Finance": ["Accountant", "Financial Analyst", "Controller"],
    "Human Resources": ["HR Generalist", "Recruiter", "HR Manager"],
    "IT": ["IT Administrator", "Helpdesk Technician", "Security Analyst"],
    "Operations": ["Warehouse Associate", "Logistics Coordinator", "Operations Manager"],
    "Legal": ["Paralegal", "Corporate Counsel"],
}
SIZES = {"Support": 42, "Sales": 30, "Engineering": 36, "Marketing": 14, "Finance": 12,
         "Human Resources": 8, "IT": 12, "Operations": 24, "Legal": 4}
OFFICES = [("Seattle", "United States", "SEA-2/1200"), ("Austin", "United States", "AUS-1/210"),
           ("Dublin", "Ireland", "DUB-3/040"), ("Munich", "Germany", "MUC-1/330")]


def created(year_lo=2018, year_hi=2025):
    return f"{rng.randint(year_lo, year_hi)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T" \
           f"{rng.randint(7, 18):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"


users, by_dept, used = [], {d: [] for d in DEPTS}, set()
emp = 100200
for dept, size in SIZES.items():
    for i in range(size):
        while True:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            alias = f"{first}.{last}".lower()
            if alias not in used:
                used.add(alias)
                break
        city, country, office = rng.choice(OFFICES)
        emp += rng.randint(1, 9)
        title = DEPTS[dept][0] if i > 3 else DEPTS[dept][-1] if i == 0 else rng.choice(DEPTS[dept])
        user = {
            "id": oid("user", alias),
            "userPrincipalName": f"{alias}@{MAIL}",
            "mail": f"{alias}@{MAIL}",
            "givenName": first,
            "surname": last,
            "displayName": f"{first} {last}",
            "businessPhones": [f"+1 425 555 {rng.randint(100, 9999):04d}"] if rng.random() < 0.8 else [],
            "mobilePhone": None,
            "jobTitle": title,
            "department": dept,
            "employeeId": str(emp),
            "officeLocation": office,
            "companyName": "Tailspin Toys",
            "city": city,
            "country": country,
            "usageLocation": "US" if country == "United States" else country[:2].upper(),
            "userType": "Member",
            "accountEnabled": True,
            "createdDateTime": created(),
        }
        users.append(user)
        by_dept[dept].append(user)

# Some accounts are disabled (leavers not yet cleaned up).
for user in rng.sample(users, 10):
    user["accountEnabled"] = False

# Some people have no mail (UPN only) and one has a mail that differs from the UPN.
for user in rng.sample(users, 4):
    user["mail"] = None
users[5]["mail"] = users[5]["mail"].replace("@", ".old@")

guests = []
for name, company in [("Bob Kelly", "fabrikam.com"), ("Ines Moreau", "contractors.example"),
                      ("Kenji Mori", "fabrikam.com"), ("Lars Berg", "northwind.example"),
                      ("Mia Novak", "contractors.example"), ("Paul Agarwal", "fabrikam.com"),
                      ("Rita Haas", "northwind.example"), ("Tom Walsh", "contractors.example")]:
    first, last = name.split()
    ext = f"{first.lower()}.{last.lower()}@{company}"
    guest = {
        "id": oid("guest", ext),
        "userPrincipalName": f"{ext.replace('@', '_')}#EXT#@{DOMAIN}",
        "mail": ext,
        "givenName": first,
        "surname": last,
        "displayName": f"{name} ({company.split('.')[0].title()})",
        "businessPhones": [],
        "jobTitle": "Contractor",
        "department": rng.choice(["Support", "Engineering", "Operations"]),
        "employeeId": None,
        "officeLocation": None,
        "companyName": company.split(".")[0].title(),
        "city": None,
        "country": None,
        "userType": "Guest",
        "creationType": "Invitation",
        "externalUserState": "Accepted" if rng.random() < 0.75 else "PendingAcceptance",
        "accountEnabled": True,
        "createdDateTime": created(2023, 2025),
    }
    guests.append(guest)
users.extend(guests)

devices = [{"id": oid("device", f"KIOSK-{n:02d}"), "displayName": f"KIOSK-{n:02d}", "accountEnabled": True,
            "deviceId": oid("deviceid", str(n)), "operatingSystem": "Windows"} for n in range(1, 5)]
sps = [{"id": oid("sp", "build"), "displayName": "Build Pipeline", "appId": oid("app", "build")}]
contacts = [{"id": oid("contact", "vendor"), "displayName": "Acme Support Desk", "mail": "desk@acme.example"},
            {"id": oid("contact", "auditor"), "displayName": "External Auditor", "mail": "audit@kpmg.example"}]

groups = []


def group(name, members, *, kind="security", desc=None, year=(2018, 2024)):
    types = {"security": ([], False, True), "m365": (["Unified"], True, False),
             "distribution": ([], True, False), "mailsecurity": ([], True, True)}[kind]
    g = {
        "id": oid("group", name),
        "displayName": name,
        "description": desc,
        "createdDateTime": created(*year),
        "groupTypes": types[0],
        "mailEnabled": types[1],
        "securityEnabled": types[2],
        "mailNickname": name.lower().replace(" ", "-").replace("&", "and"),
        "members": [m["id"] for m in members],
    }
    groups.append(g)
    return g


ids = lambda xs: [{"id": x["id"]} for x in xs]  # noqa: E731
support = by_dept["Support"]
tier1 = group("Support Tier 1", support[4:28], desc="First-line support agents")
tier2 = group("Support Tier 2", support[28:], desc="Escalation engineers")
leads = group("Support Leads", support[:4], desc="Support team leads")
contractors = [g for g in guests if g["department"] == "Support"]
group("Support Contractors", contractors, desc="External support staff (guests)")
support_all = group("Support (all)", ids([tier1, tier2, leads]) + [guests[0]],
                    desc="Everyone in support, through the tier groups")
dept_groups = {}
for dept in DEPTS:
    if dept == "Support":
        dept_groups[dept] = support_all
        continue
    dept_groups[dept] = group(f"{dept} Team", by_dept[dept], desc=f"All of {dept}")
eng = by_dept["Engineering"]
group("Engineering Platform", eng[:14], desc="Platform squad")
group("Engineering Apps", eng[14:], desc="Apps squad")
group("Sales EMEA", [u for u in by_dept["Sales"] if u["country"] != "United States"], kind="m365")
group("Sales Americas", [u for u in by_dept["Sales"] if u["country"] == "United States"], kind="m365")
group("All Staff", ids(list(dept_groups.values())), kind="mailsecurity", desc="Every employee, by department")
for city, _, _ in OFFICES:
    group(f"Office {city}", [u for u in users if u.get("city") == city], kind="distribution")
group("Managers", [u for u in users if u["jobTitle"].endswith(("Manager", "Lead", "Controller"))])
group("Project Falcon", rng.sample(eng, 6) + rng.sample(by_dept["Marketing"], 3) + guests[1:3], kind="m365",
      desc="Spring launch project")
group("Project Otter", rng.sample(eng, 5) + rng.sample(support, 4), kind="m365")
group("Kiosk Devices", devices + [support[10]], desc="Shop-floor kiosks and their owner")
group("Build Agents", sps + eng[:2], desc="Service principals that deploy")
group("Vendors", contacts + [by_dept["Finance"][0]], kind="distribution", desc="External contacts")
group("VPN Users", rng.sample(users[:200], 60) + [ids(devices)[0]])
group("Helpdesk Escalation", ids([tier2]) + by_dept["IT"][:3], desc="Nested: Tier 2 and IT helpdesk")
group("Leavers 2025", [u for u in users if not u["accountEnabled"]], desc="Disabled accounts kept for audit")
group("Guests", guests, desc="Every B2B guest")
group("Empty Sandbox", [], desc="A group with no members", year=(2025, 2025))

fixture = {
    "_comment": "DEMO ONLY. A made-up company for the adsync simulator; the client secret below opens "
                "nothing but the simulator. Regenerate with tools/gen_demo_tenant.py.",
    "tenant": {
        "id": "7a3c9f1e-5b2d-4e8a-9c6f-0d1e2f3a4b5c",
        "domain": DOMAIN,
        "displayName": "Tailspin Toys",
        "otherCloudTenants": {"tailspintoys.onmicrosoft.us": "usgovcloudapi.net"},
    },
    "apps": [
        {
            "clientId": "c0ffee00-1d2e-4f3a-8b9c-0d1e2f3a4b5c",
            "displayName": "adsync (demo)",
            "secrets": [
                {"id": "8e2f0c4a-6b1d-4e3f-9a5c-7d2e1f0a3b4c", "value": "demo-only~Tailspin.Sim.Secret.2026"},
                {"id": "1b2c3d4e-0000-4000-8000-00000000dead", "value": "demo-only~expired", "expired": True},
            ],
            "roles": ["User.Read.All", "GroupMember.Read.All"],
        },
        {
            "clientId": "c0ffee00-1d2e-4f3a-8b9c-00000000a11c",
            "displayName": "adsync (demo, not consented)",
            "secrets": [{"id": "2c3d4e5f-0000-4000-8000-0000000000aa", "value": "demo-only~no-consent"}],
            "roles": [],
        },
    ],
    "users": users,
    "groups": groups,
    "devices": devices,
    "servicePrincipals": sps,
    "contacts": contacts,
}

# The sources the demo's attribute mappings read (SPEC §3.1): a mobile number for most members,
# and the cost centre and division of each department. A generator of its own, so that the
# fixture above stays what it was.
extra_rng = random.Random(31)
COST_CENTRES = {dept: f"CC-{1000 + 10 * i}" for i, dept in enumerate(DEPTS)}
for user in users:
    if user["userType"] != "Member":
        continue
    if extra_rng.random() < 0.7:
        user["mobilePhone"] = f"+1 206 555 {extra_rng.randint(100, 9999):04d}"
    user["employeeOrgData"] = {"costCenter": COST_CENTRES[user["department"]], "division": "Operations"}

out = Path(__file__).resolve().parent.parent / "assets" / "demo-tenant.json"
out.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
print(f"{out}: {len(users)} users ({len(guests)} guests), {len(groups)} groups")
