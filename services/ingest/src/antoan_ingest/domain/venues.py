"""Venue vocabulary shown to people."""

from __future__ import annotations

from antoan_shared.events import VenueCategory

CATEGORY_LABELS_VI: dict[VenueCategory, str] = {
    VenueCategory.OFFICE: "Cơ quan, văn phòng",
    VenueCategory.HOSPITAL: "Bệnh viện, cơ sở y tế",
    VenueCategory.SCHOOL: "Trường học",
    VenueCategory.COMPANY: "Doanh nghiệp",
    VenueCategory.SUPERMARKET: "Siêu thị",
    VenueCategory.MARKET: "Chợ",
    VenueCategory.HOTEL: "Khách sạn, cơ sở lưu trú",
    VenueCategory.RESTAURANT: "Nhà hàng",
    VenueCategory.CAFE: "Quán cà phê",
    VenueCategory.SHOP: "Cửa hàng",
    VenueCategory.FACTORY: "Nhà máy, khu công nghiệp",
    VenueCategory.GOVERNMENT: "Cơ quan nhà nước",
    VenueCategory.PLACE_OF_WORSHIP: "Cơ sở tôn giáo",
    VenueCategory.PUBLIC_TRANSPORT: "Phương tiện giao thông công cộng",
    VenueCategory.OTHER: "Địa điểm khác",
}
