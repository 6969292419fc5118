-- Every share (a product card or a page shared to a chat) linked into its share tree: parent, root and depth.
-- The tree follows parent_share_id, so a share's depth is counted here rather than trusted from the client.

with recursive

events as not materialized (

    {{ shopper_events() }}

),

shares as (

    select
        share_id as share_id,
        arg_min(parent_share_id, event_at) as parent_share_id,
        arg_min(person_id, event_at) as sharer_person_id,
        arg_min(product_id, event_at) as product_id,
        arg_min(event_name, event_at) as share_event,
        arg_min(share_via, event_at) as share_via,
        min(event_at) as shared_at
    from events
    where event_name in ('Product Shared', 'Mini Program Shared')
        and share_id is not null
    group by 1

),

tree as (

    select share_id, share_id as root_share_id, 1 as depth, [share_id] as path
    from shares
    where parent_share_id is null
        or parent_share_id not in (select share_id from shares)

    union all

    select shares.share_id, tree.root_share_id, tree.depth + 1, list_append(tree.path, shares.share_id)
    from shares
    inner join tree on shares.parent_share_id = tree.share_id
    -- A malformed cycle cannot loop forever.
    where not list_contains(tree.path, shares.share_id)

),

final as (

    select
        shares.share_id,
        shares.parent_share_id,
        tree.root_share_id,
        tree.depth,
        shares.sharer_person_id,
        shares.product_id,
        shares.share_event,
        shares.share_via,
        shares.shared_at
    from shares
    inner join tree using (share_id)

)

select * from final
