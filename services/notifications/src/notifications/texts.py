"""The words of every notification, in Vietnamese and English (Jinja2 source).

Each template has a subject (the inbox title and the email subject, one line) and a body
(the inbox text and the email's message; paragraphs are separated by a blank line). The
context is ``event`` (the contract model), ``code`` (the order's code) and ``lang``; the
filters ``vnd``, ``cny``, ``status``, ``fee``, ``complaint_type`` and ``resolution`` speak
the notification's language. Whatever a person wrote (messages, notes, reasons) is escaped
in HTML by Jinja2's autoescape.
"""

from __future__ import annotations

from dataclasses import dataclass

from azl_contracts.common import Language, ServiceCode
from azl_contracts.complaints import ComplaintType, Resolution

VI, EN = Language.VI, Language.EN


@dataclass(frozen=True)
class Text:
    subject: str
    body: str


@dataclass(frozen=True)
class Frame:
    """What surrounds every email in one language."""

    brand: str
    greeting: str
    footer: str


FRAMES: dict[Language, Frame] = {
    VI: Frame(
        brand="AZLOGISTIC",
        greeting="Xin chào,",
        footer="Đây là thư tự động từ AZLOGISTIC, vui lòng không trả lời thư này. "
        "Bạn có thể nhắn cho chúng tôi trong mục Trao đổi của đơn hàng.",
    ),
    EN: Frame(
        brand="King Cargo",
        greeting="Hello,",
        footer="This is an automatic message from King Cargo; please do not reply to it. "
        "You can write to us in the order's conversation.",
    ),
}

CATALOG: dict[str, dict[Language, Text]] = {
    # --- to the customer --------------------------------------------------------------------
    "order_deposited": {
        VI: Text(
            "Đơn {{ code }} đã đặt cọc",
            "Chúng tôi đã nhận tiền đặt cọc {{ event.deposit_paid_vnd | vnd }} cho đơn hàng "
            "{{ code }}. Đơn hàng chuyển sang trạng thái «{{ 'deposited' | status }}» và sẽ "
            "sớm được đặt mua.",
        ),
        EN: Text(
            "Order {{ code }} deposited",
            "We received your deposit of {{ event.deposit_paid_vnd | vnd }} for order "
            "{{ code }}. The order is now “{{ 'deposited' | status }}” and we will order your "
            "goods soon.",
        ),
    },
    "purchasing_started": {
        VI: Text(
            "Đơn {{ code }} đang được mua hàng",
            "Chúng tôi đã bắt đầu đặt mua hàng cho đơn {{ code }} với shop.",
        ),
        EN: Text(
            "We are ordering your goods ({{ code }})",
            "We started ordering the goods of order {{ code }} from the shop.",
        ),
    },
    "items_awaiting_confirmation": {
        VI: Text(
            "Đơn {{ code }}: vui lòng xác nhận thay đổi",
            "Shop đã thay đổi {{ event.changes | length }} sản phẩm của đơn {{ code }}:\n"
            "{% for change in event.changes %}"
            "- số lượng {{ change.old_quantity }} → {{ change.new_quantity }}, đơn giá "
            "{{ change.old_unit_price_cny | cny }} → {{ change.new_unit_price_cny | cny }}\n"
            "{% endfor %}\n"
            "Vui lòng xác nhận hoặc từ chối các thay đổi này để chúng tôi tiếp tục mua hàng.",
        ),
        EN: Text(
            "Order {{ code }}: please confirm changes",
            "The shop changed {{ event.changes | length }} item(s) of order {{ code }}:\n"
            "{% for change in event.changes %}"
            "- quantity {{ change.old_quantity }} → {{ change.new_quantity }}, unit price "
            "{{ change.old_unit_price_cny | cny }} → {{ change.new_unit_price_cny | cny }}\n"
            "{% endfor %}\n"
            "Please confirm or decline these changes so that we can go on ordering.",
        ),
    },
    "order_purchased": {
        VI: Text(
            "Đơn {{ code }} đã mua hàng",
            "Mọi sản phẩm của đơn {{ code }} đã được đặt mua thành công. Chúng tôi sẽ báo cho "
            "bạn khi shop phát hàng.",
        ),
        EN: Text(
            "Order {{ code }} placed with the shop",
            "Every item of order {{ code }} has been ordered. We will let you know when the "
            "seller ships.",
        ),
    },
    "shipping_advanced": {
        VI: Text(
            "Đơn {{ code }}: {{ event.to_status | status }}",
            "Đơn hàng {{ code }} chuyển sang trạng thái «{{ event.to_status | status }}».",
        ),
        EN: Text(
            "Order {{ code }}: {{ event.to_status | status }}",
            "Order {{ code }} is now “{{ event.to_status | status }}”.",
        ),
    },
    "order_delivered": {
        VI: Text(
            "Đơn {{ code }} đã giao hàng",
            "Đơn hàng {{ code }} đã được giao"
            "{% if event.packages %} ({{ event.packages | length }} kiện){% endif %}. "
            "Nếu hàng có vấn đề, bạn có thể gửi khiếu nại trước khi xác nhận đã nhận hàng.",
        ),
        EN: Text(
            "Order {{ code }} delivered",
            "Order {{ code }} has been delivered"
            "{% if event.packages %} ({{ event.packages | length }} package(s)){% endif %}. "
            "If anything is wrong, you can open a complaint before you confirm receipt.",
        ),
    },
    "order_cancelled": {
        VI: Text(
            "Đơn {{ code }} đã hủy",
            "Đơn hàng {{ code }} đã được hủy (trạng thái trước đó: "
            "«{{ event.cancelled_from | status }}»)."
            "{% if event.reason %}\n\nLý do: {{ event.reason }}{% endif %}",
        ),
        EN: Text(
            "Order {{ code }} cancelled",
            "Order {{ code }} was cancelled (it was “{{ event.cancelled_from | status }}”)."
            "{% if event.reason %}\n\nReason: {{ event.reason }}{% endif %}",
        ),
    },
    "cancellation_approved": {
        VI: Text(
            "Yêu cầu hủy đơn {{ code }} đã được chấp nhận",
            "Đơn hàng {{ code }} đã được hủy theo yêu cầu. Số tiền hoàn lại (nếu có) sẽ được "
            "thông báo riêng.{% if event.reason %}\n\nGhi chú: {{ event.reason }}{% endif %}",
        ),
        EN: Text(
            "Cancellation of order {{ code }} approved",
            "Order {{ code }} has been cancelled as requested. Any refund due will be shown "
            "separately.{% if event.reason %}\n\nNote: {{ event.reason }}{% endif %}",
        ),
    },
    "cancellation_rejected": {
        VI: Text(
            "Yêu cầu hủy đơn {{ code }} bị từ chối",
            "Chúng tôi không thể hủy đơn {{ code }} vì hàng đã được đặt mua. Đơn hàng tiếp tục ở "
            "trạng thái «{{ 'purchased' | status }}».\n\nLý do: {{ event.reason }}",
        ),
        EN: Text(
            "Cancellation of order {{ code }} declined",
            "We cannot cancel order {{ code }}: its goods have been ordered. The order stays "
            "“{{ 'purchased' | status }}”.\n\nReason: {{ event.reason }}",
        ),
    },
    "fee_charged": {
        VI: Text(
            "Đơn {{ code }}: phí {{ event.fee_code | fee }}",
            "Phí {{ event.fee_code | fee }} của đơn {{ code }} là {{ event.amount_vnd | vnd }}.",
        ),
        EN: Text(
            "Order {{ code }}: {{ event.fee_code | fee }} fee",
            "The {{ event.fee_code | fee }} fee of order {{ code }} is "
            "{{ event.amount_vnd | vnd }}.",
        ),
    },
    "complaint_opened": {
        VI: Text(
            "Đã nhận khiếu nại về đơn {{ code }}",
            "Chúng tôi đã nhận khiếu nại «{{ event.type | complaint_type }}» của bạn về đơn "
            "{{ code }} và sẽ sớm xem xét.",
        ),
        EN: Text(
            "Complaint about order {{ code }} received",
            "We received your complaint (“{{ event.type | complaint_type }}”) about order "
            "{{ code }} and will review it soon.",
        ),
    },
    "complaint_review_started": {
        VI: Text(
            "Khiếu nại về đơn {{ code }} đang được xem xét",
            "Nhân viên của chúng tôi đang xem xét khiếu nại của bạn về đơn {{ code }}.",
        ),
        EN: Text(
            "Your complaint about order {{ code }} is in review",
            "Our staff are reviewing your complaint about order {{ code }}.",
        ),
    },
    "complaint_info_requested": {
        VI: Text(
            "Khiếu nại về đơn {{ code }}: cần thêm thông tin",
            "Chúng tôi cần thêm thông tin về khiếu nại của bạn (đơn {{ code }}):\n\n"
            "{{ event.message }}",
        ),
        EN: Text(
            "Complaint about order {{ code }}: more information needed",
            "We need more information about your complaint (order {{ code }}):\n\n"
            "{{ event.message }}",
        ),
    },
    "complaint_comment_from_staff": {
        VI: Text(
            "Phản hồi mới về khiếu nại đơn {{ code }}",
            "Nhân viên đã trả lời khiếu nại của bạn về đơn {{ code }}:\n\n{{ event.body }}",
        ),
        EN: Text(
            "New reply about your complaint ({{ code }})",
            "Our staff replied to your complaint about order {{ code }}:\n\n{{ event.body }}",
        ),
    },
    "complaint_resolved": {
        VI: Text(
            "Khiếu nại về đơn {{ code }} đã được xử lý",
            "Kết quả khiếu nại về đơn {{ code }}: {{ event.resolution | resolution }}"
            "{% if event.amount_vnd %} {{ event.amount_vnd | vnd }}{% endif %}."
            "{% if event.payout_vnd is not none and event.payout_vnd != event.amount_vnd %}"
            " Sau khi trừ phí vận chuyển quốc tế, bạn được hoàn {{ event.payout_vnd | vnd }}."
            "{% endif %}"
            "{% if event.note %}\n\n{{ event.note }}{% endif %}",
        ),
        EN: Text(
            "Your complaint about order {{ code }} was decided",
            "The outcome of your complaint about order {{ code }}: "
            "{{ event.resolution | resolution }}"
            "{% if event.amount_vnd %} {{ event.amount_vnd | vnd }}{% endif %}."
            "{% if event.payout_vnd is not none and event.payout_vnd != event.amount_vnd %}"
            " After the international shipping is deducted, you are refunded "
            "{{ event.payout_vnd | vnd }}.{% endif %}"
            "{% if event.note %}\n\n{{ event.note }}{% endif %}",
        ),
    },
    "message_from_staff": {
        VI: Text(
            "Tin nhắn mới về đơn {{ code }}",
            "Nhân viên AZLOGISTIC nhắn về đơn {{ code }}:\n\n{{ event.body }}",
        ),
        EN: Text(
            "New message about order {{ code }}",
            "King Cargo staff wrote about order {{ code }}:\n\n{{ event.body }}",
        ),
    },
    "note_for_customer": {
        VI: Text(
            "Ghi chú mới về đơn {{ code }}",
            "Ghi chú của nhân viên về đơn {{ code }}:\n\n{{ event.body }}",
        ),
        EN: Text(
            "New note about order {{ code }}",
            "A note from our staff about order {{ code }}:\n\n{{ event.body }}",
        ),
    },
    # --- to staff ---------------------------------------------------------------------------
    "message_from_customer": {
        VI: Text(
            "Khách hàng nhắn về đơn {{ code }}",
            "Khách hàng {{ event.author.id }} nhắn về đơn {{ code }}:\n\n{{ event.body }}",
        ),
        EN: Text(
            "Customer message about order {{ code }}",
            "Customer {{ event.author.id }} wrote about order {{ code }}:\n\n{{ event.body }}",
        ),
    },
    "cancellation_requested": {
        VI: Text(
            "Yêu cầu hủy đơn {{ code }}",
            "{{ event.actor.id }} yêu cầu hủy đơn {{ code }} (hàng đã được đặt mua). Vui lòng "
            "duyệt hoặc từ chối yêu cầu.{% if event.reason %}\n\nLý do: {{ event.reason }}"
            "{% endif %}",
        ),
        EN: Text(
            "Cancellation requested: order {{ code }}",
            "{{ event.actor.id }} asks to cancel order {{ code }} (its goods are ordered). "
            "Please approve or reject the request."
            "{% if event.reason %}\n\nReason: {{ event.reason }}{% endif %}",
        ),
    },
    "complaint_opened_for_staff": {
        VI: Text(
            "Khiếu nại mới về đơn {{ code }}",
            "Khách hàng {{ event.customer_id }} khiếu nại «{{ event.type | complaint_type }}» "
            "về đơn {{ code }}"
            "{% if event.requested_amount_vnd %}, yêu cầu "
            "{{ event.requested_amount_vnd | vnd }}{% endif %}:\n\n{{ event.description }}",
        ),
        EN: Text(
            "New complaint about order {{ code }}",
            "Customer {{ event.customer_id }} complains (“{{ event.type | complaint_type }}”) "
            "about order {{ code }}"
            "{% if event.requested_amount_vnd %}, asking for "
            "{{ event.requested_amount_vnd | vnd }}{% endif %}:\n\n{{ event.description }}",
        ),
    },
    "complaint_info_provided": {
        VI: Text(
            "Khách hàng bổ sung thông tin khiếu nại đơn {{ code }}",
            "Khách hàng {{ event.customer_id }} trả lời về khiếu nại đơn {{ code }}:\n\n"
            "{{ event.message }}",
        ),
        EN: Text(
            "Customer answered about the complaint on order {{ code }}",
            "Customer {{ event.customer_id }} answered about the complaint on order "
            "{{ code }}:\n\n{{ event.message }}",
        ),
    },
    "complaint_comment_from_customer": {
        VI: Text(
            "Bình luận mới của khách về khiếu nại đơn {{ code }}",
            "Khách hàng {{ event.customer_id }} viết về khiếu nại đơn {{ code }}:\n\n"
            "{{ event.body }}",
        ),
        EN: Text(
            "New customer comment on the complaint about order {{ code }}",
            "Customer {{ event.customer_id }} wrote about the complaint on order "
            "{{ code }}:\n\n{{ event.body }}",
        ),
    },
    "complaint_withdrawn": {
        VI: Text(
            "Khách hàng rút khiếu nại đơn {{ code }}",
            "Khách hàng {{ event.customer_id }} đã rút khiếu nại về đơn {{ code }}."
            "{% if event.reason %}\n\nLý do: {{ event.reason }}{% endif %}",
        ),
        EN: Text(
            "Complaint about order {{ code }} withdrawn",
            "Customer {{ event.customer_id }} withdrew the complaint about order {{ code }}."
            "{% if event.reason %}\n\nReason: {{ event.reason }}{% endif %}",
        ),
    },
}

FEE_LABELS: dict[ServiceCode, tuple[str, str]] = {
    ServiceCode.PURCHASE_FEE: ("mua hàng", "purchase"),
    ServiceCode.TALLYING: ("kiểm đếm", "tallying"),
    ServiceCode.FAST_ORDER: ("đặt hàng nhanh", "fast order"),
    ServiceCode.INSURANCE: ("bảo hiểm", "insurance"),
    ServiceCode.WOODEN_CRATE: ("đóng gỗ", "wooden crate"),
    ServiceCode.BUBBLE_WRAP: ("bọc chống sốc", "bubble wrap"),
    ServiceCode.INTERNATIONAL_SHIPPING: ("vận chuyển quốc tế", "international shipping"),
}

COMPLAINT_TYPE_LABELS: dict[ComplaintType, tuple[str, str]] = {
    ComplaintType.WRONG_ITEM: ("Giao sai sản phẩm", "Wrong item"),
    ComplaintType.MISSING_QUANTITY: ("Thiếu số lượng", "Missing quantity"),
    ComplaintType.DAMAGED: ("Hàng bị hỏng", "Damaged"),
    ComplaintType.NOT_AS_DESCRIBED: ("Không đúng mô tả", "Not as described"),
    ComplaintType.LATE_DELIVERY: ("Giao hàng chậm", "Late delivery"),
    ComplaintType.REFUND_REQUEST: ("Yêu cầu hoàn tiền", "Refund request"),
    ComplaintType.OTHER: ("Khác", "Other"),
}

RESOLUTION_LABELS: dict[Resolution, tuple[str, str]] = {
    Resolution.REFUND: ("hoàn tiền", "refund of"),
    Resolution.RESHIP: ("gửi lại hàng", "the goods will be shipped again"),
    Resolution.REJECT: ("khiếu nại không được chấp nhận", "the complaint was not accepted"),
}
