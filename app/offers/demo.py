"""Demo offers: restaurants with lunch in Futian and Guangzhou, goods and a service, people
in hardship with accounts, and bookings in every state (called by ``app.seed``)."""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import MemberRole, Membership, Organisation, OrgKind, OrgStatus, Role, User
from app.models_base import local_today, utcnow
from app.needs.models import Household
from app.offers import pool, services
from app.offers.models import Booking, Offer, OfferKind, OfferSlot, ProviderPermit

# (login, contact, organisation, district, pickup place, lat, lng, licence code)
RESTAURANTS = [
    (
        "restaurant1",
        "福田幸福餐厅 店长",
        "福田区幸福里餐厅",
        "440304",
        "深圳市福田区福华路88号 幸福里餐厅",
        22.5366,
        114.0559,
        "91440300MA5DEMO01X",
    ),
    (
        "restaurant2",
        "天河爱心食堂 店长",
        "天河区街坊爱心食堂",
        "440106",
        "广州市天河区天河路230号 街坊食堂",
        23.1372,
        113.3265,
        "91440106MA5DEMO02X",
    ),
    (
        "restaurant3",
        "越秀粥铺 店长",
        "越秀区老西关粥铺",
        "440104",
        "广州市越秀区中山五路12号 老西关粥铺",
        23.1291,
        113.2644,
        "91440104MA5DEMO03X",
    ),
]


def _meal(session: Session, provider: User) -> Offer:
    organisation = provider.organisation
    assert organisation is not None
    return next(o for o in services.offers_of(session, organisation) if o.kind is OfferKind.MEAL)


def _next_slot(session: Session, provider: User) -> OfferSlot:
    offer = _meal(session, provider)
    return services.open_slots(session, [offer])[offer.id][0]


def seed_offers(
    session: Session, password_hash: str, admin: User, caseworker: User, domain: str
) -> str:
    """Restaurants (one with a lapsed permit, so its offer is paused and the admin has a
    re-review), offers of all three kinds, two people in hardship, bookings in every state."""
    today = local_today()
    providers: list[User] = []
    for i, (login, contact, name, district, place, lat, lng, licence) in enumerate(RESTAURANTS):
        user = User(
            email=f"{login}@{domain}",
            display_name=contact,
            role=Role.COMPANY,
            password_hash=password_hash,
        )
        org = Organisation(
            kind=OrgKind.COMPANY,
            name=name,
            licence_number=licence,
            district_code=district,
            status=OrgStatus.VERIFIED,
            verified_at=utcnow(),
            verified_by_id=admin.id,
            base_lat=lat,
            base_lng=lng,
        )
        session.add_all([user, org, Membership(user=user, organisation=org, role=MemberRole.ADMIN)])
        session.flush()
        session.add(
            ProviderPermit(
                organisation_id=org.id,
                licence_expires_on=today + timedelta(days=400),
                hygiene_expires_on=today + timedelta(days=200 + 100 * i),
                updated_at=utcnow() - timedelta(days=30),
                reviewed_at=utcnow() - timedelta(days=29),
                reviewed_by_id=admin.id,
            )
        )
        session.flush()
        session.refresh(user)
        providers.append(user)
        services.post_offer(
            session,
            user,
            services.OfferData(
                kind=OfferKind.MEAL,
                title="爱心午餐（两荤一素）" if i != 2 else "爱心早餐（粥和包点）",
                description="为困难群众免费提供，凭领取码到店领取，不问姓名。",
                district_code=district,
                place=place,
                lat=lat,
                lng=lng,
                weekdays="1234567" if i == 0 else "12345",
                window_start=time(11, 0) if i != 2 else time(7, 0),
                window_end=time(13, 0) if i != 2 else time(9, 0),
                portions_per_window=20 if i == 0 else 15,
            ),
        )
    futian, tianhe, yuexiu = providers
    # Tianhe's restaurant also runs a goods shelf and a haircut morning.
    services.post_offer(
        session,
        tianhe,
        services.OfferData(
            kind=OfferKind.GOODS,
            title="爱心米面包",
            description="每户一份：大米5斤、挂面两包。",
            district_code="440106",
            place="广州市天河区天河路230号 街坊食堂门口",
            item="米面包",
            quantity=40,
            unit="份",
            expires_on=today + timedelta(days=30),
        ),
    )
    services.post_offer(
        session,
        tianhe,
        services.OfferData(
            kind=OfferKind.SERVICE,
            title="义剪：长者免费理发",
            district_code="440106",
            place="广州市天河区天河路230号 街坊食堂二楼",
            service_date=today + timedelta(days=3),
            window_start=time(9, 0),
            slot_minutes=30,
            slot_count=6,
            places_per_slot=2,
        ),
    )

    households = list(
        session.scalars(
            select(Household)
            .where(Household.created_by_id == caseworker.id)
            .order_by(Household.id)
            .limit(8)
        )
    )
    # People in hardship: one linked to a household, one still booking without proof.
    linked = services.register_recipient_with_hash(
        session, f"recipient1@{domain}", password_hash, "陈阿姨", "13700000001", "440106"
    )
    services.link_recipient(session, caseworker, "13700000001", households[0])
    newcomer = services.register_recipient_with_hash(
        session, f"recipient2@{domain}", password_hash, "小林", "13700000002", "440106"
    )

    # Past windows (yesterday) hold the finished states: picked up, not picked up.
    lunch = _meal(session, tianhe)
    yesterday = today - timedelta(days=1)
    past = OfferSlot(
        offer_id=lunch.id,
        starts_at=services.local_to_utc(yesterday, time(11, 0)),
        ends_at=services.local_to_utc(yesterday, time(13, 0)),
        capacity=15,
        booked=0,
    )
    session.add(past)
    session.flush()
    past_bookings = []
    for household in households[1:5]:
        booking = Booking(
            code=services.new_code(),
            offer_id=lunch.id,
            slot_id=past.id,
            household_id=household.id,
            booked_by_id=caseworker.id,
            expires_at=past.ends_at + timedelta(minutes=30),
        )
        session.add(booking)
        past.booked += 1
        past_bookings.append(booking)
    session.flush()
    for booking in past_bookings[:3]:
        services.BOOKING.apply(
            session,
            booking,
            "redeem",
            tianhe,
            redeemed_at=past.starts_at + timedelta(minutes=20),
            redeemed_by_id=tianhe.id,
        )
        events.emit(
            events.pickup_redeemed, session=session, booking=booking, offer=lunch, actor=tianhe
        )
    services.expire_unused_codes(session)  # the fourth: not picked up, portion freed

    # Open windows: booked codes, one cancelled, and the newcomer's pickups without proof.
    for offer_owner, household in ((futian, households[5]), (tianhe, households[6])):
        services.book(session, caseworker, _next_slot(session, offer_owner), household)
    cancelled = services.book(session, caseworker, _next_slot(session, yuexiu), households[7])
    services.cancel_booking(session, cancelled, caseworker)
    futian_slot = _next_slot(session, futian)
    for _ in range(2):
        services.book(session, newcomer, futian_slot)
    services.book(session, linked, futian_slot)

    # Yuexiu's hygiene permit lapsed yesterday: its breakfast pauses, the admin re-reviews.
    assert yuexiu.organisation is not None
    permit = services.permit_of(session, yuexiu.organisation)
    assert permit is not None
    permit.hygiene_expires_on = yesterday
    session.flush()
    services.pause_offers_with_lapsed_permits(session)

    # The resource pool (every city's caseworker has received donations in it): in Tianhe
    # one reservation waits at the station, one was handed out, one was cancelled.
    items = pool.pool_items(session, caseworker)
    if items:
        first = items[0].donation
        pool.set_expiry(session, caseworker, first, today + timedelta(days=90))
        gone = pool.reserve(session, caseworker, first, households[3], 1)
        pool.cancel_reservation(session, caseworker, gone)
        pool.reserve(session, caseworker, first, households[1], 1)  # waits at the station
        done = pool.reserve(session, caseworker, first, households[2], 1)
        pool.hand_out(session, caseworker, done.code)
    return (
        f"offers: restaurant1..{len(RESTAURANTS)}@{domain} (Futian, Tianhe, Yuexiu), "
        f"recipient1@ (linked), recipient2@ (unverified)"
    )
