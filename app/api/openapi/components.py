"""The operator API's security schemes and schemas."""

from __future__ import annotations

from typing import Any

from app.agent_settings import registry
from app.api.openapi.common import page_of


def _setting_value_schemas() -> dict[str, Any]:
    schemas = {
        "ra_types": {
            "type": "array",
            "items": {"enum": list(registry.RA_TYPES)},
            "description": "empty disables RA; dynamic cannot be combined",
        },
        "bool": {"type": "boolean"},
        "url": {"type": "string", "description": "proxy URL or empty"},
    }
    return {
        "type": "object",
        "properties": {
            d.key: {**schemas[d.kind], "description": str(d.description)} for d in registry.SETTINGS
        },
    }


def components() -> dict[str, Any]:
    return {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "Personal API token (profile page or `flask api-token create`)",
            },
            "session": {"type": "apiKey", "in": "cookie", "name": "portal_session"},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "field": {"type": "string"},
                        },
                    }
                },
            },
            "SettingValues": _setting_value_schemas(),
            "Device": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "hostname": {"type": "string"},
                    "os_name": {"type": "string"},
                    "os_version": {"type": "string"},
                    "agent_version": {"type": "string"},
                    "environment": {"type": "string"},
                    "kind": {"type": "string"},
                    "reporting_group": {"type": "object"},
                    "online": {"type": "boolean"},
                    "last_checkin_at": {"type": ["string", "null"]},
                    "sessions": {"type": "array", "items": {"type": "object"}},
                    "remote_assistance": {
                        "type": "object",
                        "description": "per type: available, or code and message saying "
                        "why not (the same check that refuses a start)",
                    },
                },
            },
            "Session": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "session_key": {"type": "string"},
                    "username": {"type": "string"},
                    "state": {"type": "string"},
                    "kind": {"type": "string"},
                    "device": {"type": "object"},
                },
            },
            "DevicePage": page_of("#/components/schemas/Device"),
            "AssistanceStart": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "device_id": {"type": "integer"},
                    "session_id": {
                        "type": "integer",
                        "description": "a user session id "
                        "(GET /sessions); exactly one of device_id, session_id",
                    },
                    "type": {"enum": ["interactive", "unattended", "dynamic"]},
                    "operator_device_id": {"type": "integer"},
                },
            },
            "Assistance": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "state": {
                        "enum": [
                            "requested",
                            "awaiting_consent",
                            "ready",
                            "connected",
                            "disconnected",
                            "expired",
                            "denied",
                            "failed",
                            "interrupted",
                            "cancelled",
                            "locked",
                        ]
                    },
                    "type": {"enum": ["interactive", "unattended"]},
                    "requested_type": {"enum": ["interactive", "unattended", "dynamic"]},
                    "decision_reason": {"type": "string"},
                    "device": {"type": "object"},
                    "operator": {"type": "object"},
                    "session_key": {"type": ["string", "null"]},
                    "session_id": {"type": ["string", "null"]},
                    "file_kind": {"enum": ["flxra", "exe"]},
                    "file_ready": {"type": "boolean"},
                    "password_revealed": {"type": "boolean"},
                    "tools": {"type": "array", "items": {"type": "string"}},
                    "grace_until": {"type": ["string", "null"]},
                    "teardown": {"enum": ["none", "pending", "confirmed", "unconfirmed"]},
                },
            },
            "Credentials": {
                "type": "object",
                "properties": {
                    "session_id": {"type": "string"},
                    "password": {"type": "string"},
                },
            },
            "AuditEvent": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "seq": {"type": "integer", "description": "position in the chain"},
                    "occurred_at": {"type": "string", "format": "date-time"},
                    "actor": {"type": "string"},
                    "actor_user_id": {"type": ["integer", "null"]},
                    "action": {"type": "string"},
                    "target_type": {"type": "string"},
                    "target_id": {"type": "string"},
                    "details": {"type": "object"},
                    "ip": {"type": "string"},
                    "prev_hash": {"type": "string"},
                    "hash": {"type": "string"},
                },
            },
            "AuditPage": page_of("#/components/schemas/AuditEvent"),
            "Role": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "builtin": {"type": ["string", "null"]},
                    "permissions": {"type": "array", "items": {"type": "string"}},
                    "reporting_groups": {
                        "type": ["array", "null"],
                        "items": {"type": "integer"},
                        "description": "ids of the groups the role is limited to; "
                        "null: every group",
                    },
                    "members": {"type": "integer"},
                },
            },
            "RoleList": {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Role"}}
                },
            },
            "Member": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "user": {"type": "object"},
                    "role": {"type": "object"},
                    "changed": {"type": "boolean"},
                },
            },
            "MemberList": {
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Member"},
                    }
                },
            },
            "SessionPage": page_of("#/components/schemas/Session"),
            "StoredSetting": {
                "type": "object",
                "properties": {
                    "value": {"description": "null: inherited"},
                    "set": {"type": "boolean"},
                    "enforced": {"type": "boolean"},
                    "by_role": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {"value": {}, "enforced": {"type": "boolean"}},
                        },
                    },
                },
            },
            "SettingsPut": {
                "type": "object",
                "required": ["settings"],
                "properties": {
                    "settings": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {
                                "value": {"description": "new value; null = inherit"},
                                "enforced": {
                                    "type": "boolean",
                                    "description": "product scope only",
                                },
                                "by_role": {
                                    "type": "object",
                                    "additionalProperties": {
                                        "type": "object",
                                        "required": ["value"],
                                        "properties": {
                                            "value": {},
                                            "enforced": {"type": "boolean"},
                                        },
                                    },
                                },
                            },
                        },
                    }
                },
                "example": {
                    "settings": {
                        "remote_assistance.types": {"value": ["interactive", "unattended"]},
                        "flexxible_tools": {"by_role": {"3": {"value": True}}},
                        "proxy_url": {"value": None},
                    }
                },
            },
            "Effective": {
                "type": "object",
                "properties": {
                    "value": {},
                    "source": {
                        "enum": [
                            "default",
                            "product",
                            "product_role",
                            "group",
                            "group_role",
                            "enforced",
                        ]
                    },
                    "source_label": {"type": "string"},
                    "locked": {"type": "boolean"},
                },
            },
            "ProductSettings": {
                "type": "object",
                "properties": {
                    "product": {"type": "object"},
                    "settings": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/components/schemas/StoredSetting"},
                    },
                    "changes": {"type": "array", "items": {"type": "object"}},
                },
            },
            "GroupSettings": {
                "type": "object",
                "properties": {
                    "reporting_group": {"type": "object"},
                    "settings": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/components/schemas/StoredSetting"},
                    },
                    "effective": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/components/schemas/Effective"},
                    },
                    "changes": {"type": "array", "items": {"type": "object"}},
                },
            },
            "EffectiveSettings": {
                "type": "object",
                "properties": {
                    "reporting_group": {"type": "object"},
                    "role": {"type": ["object", "null"]},
                    "settings": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/components/schemas/Effective"},
                    },
                },
            },
        },
    }
