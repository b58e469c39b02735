"""What real IAM would say about the local pipeline's AWS calls, before a deploy.

moto checks a policy's actions, never its resources or conditions, and S3 in moto
answers a missing key with 404 whatever the caller may list. This package is the rest:

- `policy`: IAM's evaluation logic for one request (explicit deny, allow by action,
  resource and condition; resource-based policies; permissions boundaries), pure;
- `managed`: the AWS managed policies SAM attaches, as AWS documents them;
- `stack`: the SAM-translated template's roles and resource-based policies, resolved to
  a local stack's names and ARNs;
- `calls`: the record `round0-local serve` keeps of every AWS call each function made,
  with what IAM must allow for it;
- `check`: that record against the policies: every call real IAM would refuse, and
  every grant no call used.

Development tools only: nothing here is deployed.
"""
