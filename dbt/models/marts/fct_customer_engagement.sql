{{
    config(
        materialized='incremental',
        unique_key=['customer_id', 'event_date'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns'
    )
}}
{#-
  One row per customer and day. An incremental run recomputes whole days: every day from
  (newest day already loaded - lakeops_lookback_days) on, so late updates of recent days land and a
  rerun of the same input leaves the same rows (delete+insert on the unique key).
  Engagement score: 1 per page view, 2 per search, 4 per add-to-cart, 10 per purchase, capped at 100.
-#}
with events as (

    select *
    from {{ ref('stg_customer_behavior') }}
    where customer_id is not null
      and event_id is not null
    {% if is_incremental() %}
      and event_date >= (
          select {{ dbt.dateadd('day', -1 * var('lakeops_lookback_days'), 'max(event_date)') }}
          from {{ this }}
      )
    {% endif %}

),

daily as (

    select
        customer_id,
        event_date,
        count(*) as events,
        count(distinct session_id) as sessions,
        count(case when event_type = 'page_view' then 1 end) as page_views,
        count(case when event_type = 'search' then 1 end) as searches,
        count(case when event_type = 'add_to_cart' then 1 end) as add_to_carts,
        count(case when event_type = 'purchase' then 1 end) as purchases,
        count(distinct case when event_type = 'purchase' then session_id end) as converting_sessions,
        sum(case when event_type = 'purchase' and amount >= 0 then amount else 0 end) as revenue,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from events
    group by customer_id, event_date

),

scored as (

    select
        daily.*,
        cast(
            case when sessions = 0 then 0
                 else cast(converting_sessions as {{ dbt.type_float() }}) / sessions
            end
            as {{ dbt.type_numeric() }}
        ) as conversion_rate,
        least(100, page_views + 2 * searches + 4 * add_to_carts + 10 * purchases) as engagement_score
    from daily

)

select
    {{ dbt.concat([dbt.safe_cast('scored.customer_id', dbt.type_string()), "'|'",
                   dbt.safe_cast('scored.event_date', dbt.type_string())]) }} as engagement_key,
    scored.customer_id,
    scored.event_date,
    scored.events,
    scored.sessions,
    scored.page_views,
    scored.searches,
    scored.add_to_carts,
    scored.purchases,
    scored.converting_sessions,
    scored.revenue,
    scored.conversion_rate,
    scored.engagement_score,
    case
        when scored.engagement_score >= 30 then 'high'
        when scored.engagement_score >= 10 then 'medium'
        else 'low'
    end as engagement_tier,
    case when scored.event_date = customers.first_event_date then true else false end as is_first_active_day,
    scored.first_event_at,
    scored.last_event_at
from scored
inner join {{ ref('dim_customer') }} as customers
    on scored.customer_id = customers.customer_id
