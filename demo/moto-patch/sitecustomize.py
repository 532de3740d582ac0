# Loaded by the moto_server that the demo and the end-to-end tests start (PYTHONPATH points here;
# Python imports sitecustomize at start-up). It corrects two places where moto 5.x's IAM
# enforcement departs from AWS in a way that would make every podiam credential fail, so the
# emulator keeps deciding by the policies as AWS would. Nothing else is changed; the file is
# inert for any other moto version that lacks these names (each patch checks before it applies).
#
# 1. Trust-policy principals. moto compares the caller's ARN literally with Principal.AWS
#    (moto/iam/access_control.py, IAMPolicyStatement._check_principal), so a session of role R
#    (arn:aws:sts::ACCT:assumed-role/R/session) never matches `arn:aws:iam::ACCT:role/path/R`,
#    and nothing matches `arn:aws:iam::ACCT:root`. AWS matches both: a role principal covers
#    the role's sessions, an account principal covers the account's identities. Without this,
#    the node proxy (a session of the intermediate role) could never assume a managed role.
# 2. DynamoDB resources. moto authorizes DynamoDB calls against resource "*" (DynamoHandler has
#    no _determine_resource), so a policy that names a table ARN, as every least-privilege
#    policy does, allows nothing. AWS authorizes against the table's ARN.
#
# Not patched on purpose: conditions. moto evaluates StringEquals only and treats every other
# operator as met (moto/iam/policy_conditions.py), so e.g. AWSRevokeOlderSessions'
# DateLessThan aws:TokenIssueTime denies new sessions too. The tests say so where it matters.
import re

try:
    from moto.iam import access_control as _ac

    _orig_check_principal = _ac.IAMPolicyStatement._check_principal
    _SESSION = re.compile(r"^arn:([\w-]+):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[\w+=,.@-]+$")
    _IDENTITY = re.compile(r"^arn:([\w-]+):(?:iam|sts)::(\d{12}):")

    def _check_principal(self, principal):
        if _orig_check_principal(self, principal):
            return True
        expected = (self._statement.get("Principal") or {}).get("AWS")
        expected = [expected] if isinstance(expected, str) else list(expected or [])
        m = _IDENTITY.match(principal)
        s = _SESSION.match(principal)
        for want in expected:
            if m and want in (f"arn:{m.group(1)}:iam::{m.group(2)}:root", m.group(2)):
                return True
            if s and re.fullmatch(rf"arn:{s.group(1)}:iam::{s.group(2)}:role/(?:[^*]*/)?{re.escape(s.group(3))}", want):
                return True
        return False

    _ac.IAMPolicyStatement._check_principal = _check_principal
except (ImportError, AttributeError):
    pass

try:
    from moto.dynamodb.responses import DynamoHandler as _DynamoHandler

    if not hasattr(_DynamoHandler, "_determine_resource"):

        def _determine_resource(self):
            body = self.body if isinstance(self.body, dict) else {}
            table = body.get("TableName")
            if not table:
                return "*"
            return f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{table}"

        _DynamoHandler._determine_resource = _determine_resource
except (ImportError, AttributeError):
    pass
