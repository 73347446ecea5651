"""TaskTopic: the SNS topic that carries okeanos task messages."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from okeanos_stack._props import Props, PropsChecker, merge_props


class TaskTopic(Construct):
    """An SNS topic for task messages, encrypted with a customer-managed KMS key.

    The new topic rejects requests not sent over TLS (a deny statement on
    ``aws:SecureTransport`` false), and its resource policy allows
    ``sns:Publish`` only to ``publisher_principals``. Principals of the same
    account can still be granted publishing by an identity policy, which is
    what :meth:`grant_publish` does for roles.

    Parameters
    ----------
    topic
        An existing topic to use. Default: a new topic.
    topic_props
        Overrides for the new topic (a dict or ``sns.TopicProps``). Default:
        the secure defaults above. ``master_key`` and ``enforce_ssl`` are set
        by the construct.
    encryption_key
        The KMS key of the new topic. Default: a new customer-managed key with
        yearly rotation.
    publisher_principals
        Principals allowed to publish by the topic's resource policy (other
        accounts, roles, users). Default: none beyond identity-policy grants.

    Attributes
    ----------
    topic : sns.ITopic
        The topic created or passed in.
    encryption_key : kms.IKey | None
        The topic's key; None when an existing topic was passed.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: Optional[sns.ITopic] = None,
        topic_props: Props = None,
        encryption_key: Optional[kms.IKey] = None,
        publisher_principals: Optional[Sequence[iam.IPrincipal]] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        checker = PropsChecker("TaskTopic")
        checker.exclusive("topic", topic, "topic_props", topic_props)
        checker.only_with_new("topic", topic, "encryption_key", encryption_key)
        checker.not_overridden(
            "topic_props",
            topic_props,
            {
                "master_key": "pass the key in encryption_key",
                "enforce_ssl": "the topic always rejects requests not sent over TLS",
            },
        )
        checker.raise_if_any()

        if topic is not None:
            self.topic: sns.ITopic = topic
            self.encryption_key: Optional[kms.IKey] = None
        else:
            self.encryption_key = encryption_key or kms.Key(
                self,
                "Key",
                description="Encrypts okeanos task messages at rest in SNS",
                enable_key_rotation=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            props = merge_props(
                {"display_name": "okeanos tasks"},
                topic_props,
                {"master_key": self.encryption_key, "enforce_ssl": True},
            )
            self.topic = sns.Topic(self, "Topic", **props)

        for principal in publisher_principals or ():
            self.grant_publish(principal)

    @property
    def topic_arn(self) -> str:
        """The topic's ARN."""
        return self.topic.topic_arn

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to publish to this topic, and to encrypt with its key.

        Written out instead of ``Topic.grant_publish``, which grants
        ``kms:GenerateDataKey*``; SNS needs ``kms:GenerateDataKey`` and
        ``kms:Decrypt`` from publishers ("Encryption at rest" in the Amazon SNS
        Developer Guide).
        """
        grant = iam.Grant.add_to_principal_or_resource(
            grantee=grantee, actions=["sns:Publish"], resource_arns=[self.topic.topic_arn], resource=self.topic
        )
        if self.encryption_key is not None:
            self.encryption_key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey")
        return grant


TopicLike = Union[TaskTopic, sns.ITopic]


def as_topic(topic: TopicLike) -> sns.ITopic:
    """Return the SNS topic of a :class:`TaskTopic`, or ``topic`` itself."""
    return topic.topic if isinstance(topic, TaskTopic) else topic
