# A PATCH OF A REAL PEER. Every moto_server that test/peers/moto.ts starts (and so every test and
# the demo) loads this file: PYTHONPATH points at this folder and Python imports sitecustomize at
# start-up. It makes moto 5.x's STS and IAM enforcement answer as AWS does in the places podiam's
# controls depend on, so that a test can see those controls work and see them fail. It is written
# against moto 5.2.x (moto/iam/access_control.py, moto/sts/*.py) and applies only when the names
# it replaces exist; test/integration/peers/moto-enforcement.test.ts fails if it does not apply.
#
# What it enforces (as AWS does):
#  1. sts:AssumeRole of a role that does not exist is refused with AccessDenied ("is not
#     authorized to perform: sts:AssumeRole on resource: ..."), whether or not IAM enforcement is
#     on. moto hands out credentials for any role ARN.
#  With IAM enforcement on (moto's INITIAL_NO_AUTH_ACTION_COUNT, see test/peers/moto.ts):
#  2. Trust principals: a role principal covers the role's sessions (arn:aws:sts::A:assumed-role/
#     R/s matches arn:aws:iam::A:role/path/R); an account principal (A, arn:aws:iam::A:root) covers
#     the account's users and roles; "*" covers everyone. A statement whose principal does not
#     match does not apply (moto refused the whole call instead). Service and Federated
#     principals never match an IAM caller.
#  3. Conditions, in identity and trust policies, with a request context the patch builds (below):
#     String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,Like,NotLike},
#     Numeric{Equals,NotEquals,LessThan,LessThanEquals,GreaterThan,GreaterThanEquals},
#     Date{Equals,NotEquals,LessThan,LessThanEquals,GreaterThan,GreaterThanEquals}, Bool,
#     BinaryEquals, IpAddress, NotIpAddress, Arn{Equals,Like,NotEquals,NotLike}, Null, the
#     ...IfExists suffix and the ForAnyValue:/ForAllValues: prefixes. A key absent from the request
#     makes a positive operator false and a negated one true, as in AWS.
#     moto evaluated StringEquals only and treated every other operator as met, and it treated a
#     Deny whose condition did not hold as a Deny.
#  4. Fail closed where it cannot know: an unknown operator, a condition key the patch does not
#     supply, a policy variable (${...}) or a value it cannot parse makes an Allow not apply and a
#     Deny apply. Never "met" by default.
#  5. AssumeRole needs the caller's identity policy AND the role's trust policy to allow it (moto
#     already asked both; the patch keeps that), and, when the request carries session tags,
#     both must also allow sts:TagSession. (AWS lets a trust policy that names the caller's ARN
#     suffice in the same account; this peer is stricter there.)
#  6. DynamoDB calls are authorized against the table's ARN (moto used "*", so a least-privilege
#     policy naming the table allowed nothing).
#  7. A statement with NotResource applies to the resources it does not name (moto treated it as
#     applying to every resource), and a Deny in a trust policy denies (moto allowed).
#
# The request context it supplies: aws:CurrentTime, aws:EpochTime, aws:SecureTransport (false: the
# peer listens on plain HTTP), aws:RequestedRegion, aws:PrincipalAccount, aws:PrincipalArn (a
# session's role ARN), aws:PrincipalType, aws:username (users), aws:PrincipalTag/* (user tags; for
# a session, its role's tags overlaid by its session tags), aws:TokenIssueTime (sessions only:
# when moto issued them), aws:RequestTag/* and aws:TagKeys (Tags.member.N of a query-protocol
# request), and on AssumeRole sts:ExternalId, sts:RoleSessionName, sts:TransitiveTagKeys.
#
# What it does NOT enforce (moto does not either): permissions boundaries, session policies
# (AssumeRole Policy/PolicyArns), SCPs, resource policies other than trust policies (bucket
# policies are evaluated by moto without a caller or context: their conditions fail closed here),
# transitive session tags across role chaining, aws:SourceIp/aws:SourceVpc and service-specific
# condition keys (they fail closed), policy variables (fail closed), AssumeRoleWithWebIdentity and
# AssumeRoleWithSAML trust, and case-insensitive action matching.
import datetime
import ipaddress
import re
import threading

_MARKER = "podiam-moto-patch"


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _policy_value(value):
    # JSON policies may carry booleans and numbers ("Bool": {"aws:SecureTransport": false}).
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _first(data, name):
    value = (data or {}).get(name)
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _indexed(data, prefix, fields):
    """Tags.member.N.Key/Value (or TransitiveTagKeys.member.N) of a query-protocol request, in order."""
    out = {}
    for key in (data or {}).keys():
        m = re.fullmatch(re.escape(prefix) + r"\.member\.(\d+)(?:\.(\w+))?", str(key))
        if m and (m.group(2) or "") in fields:
            out.setdefault(int(m.group(1)), {})[m.group(2) or ""] = _first(data, key)
    return [out[i] for i in sorted(out)]


def _request_tags(data):
    return {t.get("Key"): t.get("Value", "") for t in _indexed(data, "Tags", ("Key", "Value")) if t.get("Key")}


# ---- Conditions ------------------------------------------------------------------------------

_MISSING = object()  # a key the patch knows and the request does not carry
_UNKNOWN = object()  # a key the patch cannot supply: fail closed

_KNOWN_KEYS = {
    "aws:currenttime", "aws:epochtime", "aws:securetransport", "aws:requestedregion",
    "aws:principalaccount", "aws:principalarn", "aws:principaltype", "aws:username",
    "aws:tokenissuetime", "aws:tagkeys",
    "sts:externalid", "sts:rolesessionname", "sts:transitivetagkeys",
}
_KNOWN_PREFIXES = ("aws:requesttag/", "aws:principaltag/")
_MULTI_VALUED = {"aws:tagkeys", "sts:transitivetagkeys"}


def _lookup(context, key):
    k = key.lower()
    if k in context:
        return context[k]
    if k in _KNOWN_KEYS or k.startswith(_KNOWN_PREFIXES):
        return _MISSING
    return _UNKNOWN


def _glob(pattern, value, flags=0):
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, flags | re.DOTALL) is not None


def _number(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def _date(s):
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", s):
            return datetime.datetime.fromtimestamp(float(s), datetime.timezone.utc)
        d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
        return d if d.tzinfo else d.replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None


def _compare(parse, test):
    def op(actual, wanted):
        a, w = parse(actual), parse(wanted)
        if a is None or w is None:
            return None
        return test(a, w)

    return op


def _bool(actual, wanted):
    if wanted.lower() not in ("true", "false"):
        return None
    return actual.lower() == wanted.lower()


def _ip(actual, wanted):
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return None


def _arn_like(actual, wanted):
    # Each of the six colon-separated parts is matched on its own; wildcards do not cross a colon.
    a, w = actual.split(":", 5), wanted.split(":", 5)
    if len(a) != 6 or len(w) != 6:
        return False
    return all(_glob(wp, ap) for ap, wp in zip(a, w))


_POSITIVE = {
    "StringEquals": lambda a, w: a == w,
    "StringEqualsIgnoreCase": lambda a, w: a.lower() == w.lower(),
    "StringLike": lambda a, w: _glob(w, a),
    "NumericEquals": _compare(_number, lambda a, w: a == w),
    "NumericLessThan": _compare(_number, lambda a, w: a < w),
    "NumericLessThanEquals": _compare(_number, lambda a, w: a <= w),
    "NumericGreaterThan": _compare(_number, lambda a, w: a > w),
    "NumericGreaterThanEquals": _compare(_number, lambda a, w: a >= w),
    "DateEquals": _compare(_date, lambda a, w: a == w),
    "DateLessThan": _compare(_date, lambda a, w: a < w),
    "DateLessThanEquals": _compare(_date, lambda a, w: a <= w),
    "DateGreaterThan": _compare(_date, lambda a, w: a > w),
    "DateGreaterThanEquals": _compare(_date, lambda a, w: a >= w),
    "Bool": _bool,
    "BinaryEquals": lambda a, w: a == w,
    "IpAddress": _ip,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _and(results):
    """Three-valued AND: False wins, then None (cannot tell), else True."""
    results = list(results)
    if any(r is False for r in results):
        return False
    if any(r is None for r in results):
        return None
    return True


def _one_condition(operator, key, wanted, context):
    """True, False, or None when the peer cannot tell (the caller then fails closed)."""
    set_op = None
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        if operator.startswith(prefix):
            set_op, operator = prefix[:-1], operator[len(prefix):]
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    if if_exists:
        operator = operator[: -len("IfExists")]
    wanted = [_policy_value(w) for w in _as_list(wanted)]
    if any("${" in w for w in wanted):
        return None  # policy variables are not substituted by this peer
    actual = _lookup(context, key)
    if actual is _UNKNOWN:
        return None

    if operator == "Null":
        if set_op or if_exists or len(wanted) != 1 or wanted[0].lower() not in ("true", "false"):
            return None
        return (actual is _MISSING) == (wanted[0].lower() == "true")

    negated = operator in _NEGATED
    test = _POSITIVE.get(_NEGATED.get(operator, operator))
    if test is None:
        return None  # an operator this peer does not know: never "met" by default

    if actual is _MISSING:
        if if_exists or set_op == "ForAllValues":
            return True
        if set_op == "ForAnyValue":
            return False
        return negated

    def value_matches(v):
        hits = [test(v, w) for w in wanted]
        if any(h is True for h in hits):
            return not negated
        if any(h is None for h in hits):
            return None
        return negated

    if set_op == "ForAllValues":
        return _and(value_matches(v) for v in actual)
    if set_op == "ForAnyValue":
        results = [value_matches(v) for v in actual]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if key.lower() in _MULTI_VALUED or len(actual) != 1:
        return None  # a multi-valued key needs ForAnyValue/ForAllValues
    return value_matches(actual[0])


def _conditions_met(conditions, context):
    if not conditions:
        return True
    if context is None or not isinstance(conditions, dict):
        return None  # moto evaluated this policy without a request (its bucket-policy path)
    results = []
    for operator, block in conditions.items():
        if not isinstance(block, dict):
            return None
        for key, wanted in block.items():
            results.append(_one_condition(operator, key, wanted, context))
    return _and(results)


# ---- Principals ------------------------------------------------------------------------------

_SESSION = re.compile(r"^arn:([\w-]+):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[\w+=,.@-]+$")
_IDENTITY = re.compile(r"^arn:([\w-]+):(?:iam|sts)::(\d{12}):")


def _principal_in(expected, caller):
    if expected == "*":
        return True
    if not isinstance(expected, dict):
        return False
    m = _IDENTITY.match(caller)
    s = _SESSION.match(caller)
    for want in _as_list(expected.get("AWS")):
        if want == "*" or want == caller:
            return True
        if m and want in (f"arn:{m.group(1)}:iam::{m.group(2)}:root", m.group(2)):
            return True
        if s and re.fullmatch(rf"arn:{s.group(1)}:iam::{s.group(2)}:role/(?:[^*]*/)?{re.escape(s.group(3))}", want):
            return True
    return False  # Service and Federated principals never name an IAM caller


# ---- The patches -----------------------------------------------------------------------------

_pending = threading.local()


def _refuse_missing_role(caller_arn, role_arn):
    """Piece 1: AWS refuses AssumeRole of a role that does not exist, as a plain AccessDenied."""
    from moto.core.exceptions import AccessDeniedError

    raise AccessDeniedError(user_arn=caller_arn, action=f"sts:AssumeRole on resource: {role_arn}")


def _find_role(role_arn):
    from moto.iam.models import iam_backends

    m = re.match(r"^arn:([\w-]+):iam::(\d{12}):role/", role_arn or "")
    if not m:
        return None
    for role in iam_backends[m.group(2)][m.group(1)].get_roles():
        if role.arn == role_arn:
            return role
    return None


def _session_of(account_id, partition, access_key_id):
    from moto.sts.models import sts_backends

    for session in sts_backends[account_id][partition].assumed_roles:
        if session.access_key_id == access_key_id:
            return session
    return None


def _request_context(request):
    """The condition keys of this request, lower-cased, each a list of values."""
    from moto.iam import access_control as ac
    from moto.utilities.utils import get_partition

    now = datetime.datetime.now(datetime.timezone.utc)
    data = request._data if isinstance(request._data, dict) else {}
    partition = get_partition(request._region)
    ctx = {
        "aws:currenttime": [now.isoformat()],
        "aws:epochtime": [str(int(now.timestamp()))],
        # The peer listens on plain HTTP on loopback; a policy that demands TLS must see that.
        "aws:securetransport": ["false"],
        "aws:requestedregion": [request._region],
        "aws:principalaccount": [request.account_id],
    }
    principal_tags = {}
    key = request._access_key
    if isinstance(key, ac.AssumedRoleAccessKey):
        session = _session_of(request.account_id, partition, key._access_key_id)
        if session is not None:
            ctx["aws:principalarn"] = [session.role_arn]
            ctx["aws:principaltype"] = ["AssumedRole"]
            issued = getattr(session, "podiam_issued_at", None)
            if issued is not None:
                ctx["aws:tokenissuetime"] = [issued.isoformat()]
            role = _find_role(session.role_arn)
            for tag in (role.tags if role is not None else []) or []:
                principal_tags[tag["Key"]] = tag["Value"]
            principal_tags.update(getattr(session, "podiam_session_tags", {}) or {})
    elif isinstance(key, ac.IAMUserAccessKey):
        ctx["aws:principalarn"] = [key.arn]
        ctx["aws:principaltype"] = ["User"]
        ctx["aws:username"] = [key._owner_user_name]
        for tag in key.backend.list_user_tags(key._owner_user_name) or []:
            principal_tags[tag["Key"]] = tag["Value"]
    for k, v in principal_tags.items():
        ctx[f"aws:principaltag/{k.lower()}"] = [v]

    tags = _request_tags(data)
    for k, v in tags.items():
        ctx[f"aws:requesttag/{k.lower()}"] = [v]
    if tags:
        ctx["aws:tagkeys"] = list(tags)
    if request._action == "sts:AssumeRole":
        for name, ctx_key in (("ExternalId", "sts:externalid"), ("RoleSessionName", "sts:rolesessionname")):
            value = _first(data, name)
            if value is not None:
                ctx[ctx_key] = [value]
        transitive = [t[""] for t in _indexed(data, "TransitiveTagKeys", ("",))]
        if transitive:
            ctx["sts:transitivetagkeys"] = transitive
    return ctx


def _install():
    import moto
    from moto.iam import access_control as ac
    from moto.sts import models as sts_models
    from moto.sts import responses as sts_responses

    if not str(getattr(moto, "__version__", "")).startswith("5."):
        return
    PermissionResult = ac.PermissionResult

    # Statements: principal, condition, resource and effect, each as AWS reads them.
    def statement_is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
        st = self._statement
        if "NotAction" in st:
            concerned = not self._check_element_matches("NotAction", action)
        elif "Action" in st:
            concerned = self._check_element_matches("Action", action)
        else:
            concerned = False
        if not concerned:
            return PermissionResult.NEUTRAL
        deny = st.get("Effect") != "Allow"
        if principal is not None:
            if "NotPrincipal" in st:
                if _principal_in(st["NotPrincipal"], principal):
                    return PermissionResult.NEUTRAL
            elif "Principal" in st and not _principal_in(st["Principal"], principal):
                return PermissionResult.NEUTRAL
        elif self.is_unknown_principal(st.get("Principal")):
            return PermissionResult.NEUTRAL
        met = _conditions_met(st.get("Condition"), incoming_condition_values)
        if met is None:
            met = deny  # fail closed: an Allow we cannot judge does not apply, such a Deny does
        if not met:
            return PermissionResult.NEUTRAL
        if "Resource" in st:
            if not self._check_element_matches("Resource", resource):
                return PermissionResult.NEUTRAL
        elif "NotResource" in st:
            if self._check_element_matches("NotResource", resource):
                return PermissionResult.NEUTRAL
        # A trust policy has no Resource: the role it belongs to is the resource.
        return PermissionResult.DENIED if deny else PermissionResult.PERMITTED

    ac.IAMPolicyStatement.is_action_permitted = statement_is_action_permitted

    # Requests: identity policy (and for AssumeRole the trust policy) with the request's context.
    def check_action_permitted(self, resource):
        if self._action == "sts:GetCallerIdentity":
            return  # AWS answers it even under an explicit Deny
        context = _request_context(self)
        policies = self._access_key.collect_policies()
        role = None
        if self._action == "sts:AssumeRole":
            role = _find_role(resource)
            if role is None:
                _refuse_missing_role(self._access_key.arn, resource)
        actions = [self._action]
        if self._action == "sts:AssumeRole" and "aws:tagkeys" in context:
            actions.append("sts:TagSession")  # session tags need TagSession on both sides
        for action in actions:
            permitted = False
            for policy in policies:
                result = ac.IAMPolicy(policy).is_action_permitted(action, resource, None, context)
                if result == PermissionResult.DENIED:
                    self._raise_access_denied()
                permitted = permitted or result == PermissionResult.PERMITTED
            if role is not None:
                trust = ac.IAMPolicy(role.assume_role_policy_document)
                permitted = permitted and trust.is_action_permitted(action, resource, self._access_key.arn, context) == PermissionResult.PERMITTED
            if not permitted:
                self._raise_access_denied()

    ac.IAMRequestBase.check_action_permitted = check_action_permitted

    # Sessions remember when they were issued and their session tags (aws:TokenIssueTime,
    # aws:PrincipalTag/*), which moto does not keep.
    original_init = sts_models.AssumedRole.__init__

    def assumed_role_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.podiam_issued_at = datetime.datetime.now(datetime.timezone.utc)
        self.podiam_session_tags = dict(getattr(_pending, "session_tags", None) or {})

    sts_models.AssumedRole.__init__ = assumed_role_init

    original_assume_role = sts_responses.TokenResponse.assume_role

    def assume_role(self):
        role_arn = _first(self.querystring, "RoleArn")
        if _find_role(role_arn) is None:
            _, caller, _ = self.backend.get_caller_identity(self.get_access_key(), self.region)
            _refuse_missing_role(caller, role_arn)
        _pending.session_tags = _request_tags(self.querystring)
        try:
            return original_assume_role(self)
        finally:
            _pending.session_tags = None

    sts_responses.TokenResponse.assume_role = assume_role

    # DynamoDB: authorize against the table's ARN, as AWS does.
    from moto.dynamodb.responses import DynamoHandler

    if not hasattr(DynamoHandler, "_determine_resource"):

        def _determine_resource(self):
            body = self.body if isinstance(self.body, dict) else {}
            table = body.get("TableName")
            if not table:
                return "*"
            return f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{table}"

        DynamoHandler._determine_resource = _determine_resource

    moto.podiam_patch = _MARKER


try:
    _install()
except (ImportError, AttributeError):
    pass
