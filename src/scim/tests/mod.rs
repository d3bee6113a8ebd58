//! Client tests. The `interop` bodies run against the simulated application, scim2-server (PyPI)
//! and an application built on SCIMMY (npm); the fault tests use the simulator's switches.

mod faults;
mod harness;
mod hostile;
mod listing;
mod scimmy;
mod shared;
mod sim_only;

/// Generates one test per body and server: `interop::sim::NAME`, `interop::scim2_server::NAME`
/// and `interop::scimmy::NAME`.
macro_rules! against_both {
    ($($name:ident),* $(,)?) => {
        mod interop {
            mod sim {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let target = crate::scim::tests::harness::Target::sim().await;
                        crate::scim::tests::shared::$name(&target).await;
                    }
                )*
            }
            mod scim2_server {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let target = crate::scim::tests::harness::Target::scim2_server().await;
                        crate::scim::tests::shared::$name(&target).await;
                    }
                )*
            }
            mod scimmy {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let target = crate::scim::tests::harness::Target::scimmy().await;
                        crate::scim::tests::shared::$name(&target).await;
                    }
                )*
            }
        }
    };
}

against_both!(
    discovery_reports_capabilities,
    create_and_find_by_each_filter,
    filter_values_are_escaped,
    patch_attributes,
    typed_items_change_alone,
    disable_and_enable,
    group_members_add_and_remove,
    paging_across_several_pages,
    duplicate_user_name_resolves_to_existing,
    wrong_token_gives_clear_401,
    check_lines_all_pass,
    write_many_applies_each_op_with_its_own_outcome,
    unknown_ids_are_not_found,
    mapped_attributes_and_roles_land_and_admin_roles_survive_a_move,
);
