"""``/v1/workspaces/{id}/trust-policies``: a workspace's trust policies
(which CI jobs may exchange their OIDC tokens for its tokens)."""

from __future__ import annotations

import falcon

from ntcli_authority.models import TrustPolicy
from ntcli_core import timefmt
from ntcli_server.api import Resource, origin
from ntcli_server.parsing import NULL, Fields, read_body


def policy_json(policy: TrustPolicy) -> dict:
    return {'id': policy.id, 'workspace_id': policy.workspace_id,
            'name': policy.name, 'issuer': policy.issuer,
            'conditions': dict(policy.conditions),
            'scope': list(policy.granted),
            'max_lifetime': policy.max_lifetime,
            'created_at': timefmt.iso(policy.created_at),
            'created_by': policy.created_by,
            'description': policy.description}



class TrustPoliciesResource(Resource):
    """``/v1/workspaces/{id}/trust-policies``: create and list the trust
    policies of a workspace (its owner, or a token of it holding
    tokens:write)."""

    FIELDS: Fields = {'name': (str,), 'issuer': (str,),
                      'conditions': (dict,), 'scope': (list, str, NULL),
                      'max_lifetime': (int, NULL),
                      'description': (str, NULL)}

    def on_post(self, req: falcon.Request, resp: falcon.Response,
                workspace_id: str) -> None:
        principal = self.api.caller(req)
        body = read_body(req, self.FIELDS,
                         required=('name', 'issuer', 'conditions'))
        policy = self.api.authority.create_trust_policy(
            principal, workspace_id, body['name'], issuer=body['issuer'],
            conditions=body['conditions'], scope=body.get('scope'),
            max_lifetime=body.get('max_lifetime'),
            description=body.get('description'),
            origin=origin(req))
        resp.status = falcon.HTTP_201
        resp.media = policy_json(policy)

    def on_get(self, req: falcon.Request, resp: falcon.Response,
               workspace_id: str) -> None:
        principal = self.api.caller(req)
        policies = self.api.authority.list_trust_policies(principal,
                                                          workspace_id)
        resp.media = {'workspace_id': workspace_id,
                      'trust_policies': [policy_json(p) for p in policies],
                      'count': len(policies)}


class TrustPolicyResource(Resource):
    """``/v1/workspaces/{id}/trust-policies/{policy}`` (an id or a name):
    show or delete one."""

    def on_get(self, req: falcon.Request, resp: falcon.Response,
               workspace_id: str, policy: str) -> None:
        principal = self.api.caller(req)
        resp.media = policy_json(self.api.authority.get_trust_policy(
            principal, workspace_id, policy))

    def on_delete(self, req: falcon.Request, resp: falcon.Response,
                  workspace_id: str, policy: str) -> None:
        principal = self.api.caller(req)
        deleted = self.api.authority.delete_trust_policy(
            principal, workspace_id, policy, origin=origin(req))
        resp.media = {'workspace_id': workspace_id, 'id': deleted.id,
                      'name': deleted.name, 'status': 'deleted'}

