"""TaskStateTable: the DynamoDB table that stores each task's state."""

from __future__ import annotations

from typing import Optional

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from okeanos_stack._props import Props, PropsChecker, merge_props

# The handler reads and writes items by this key; changing it breaks every deployment.
PARTITION_KEY = "task"


class TaskStateTable(Construct):
    """A DynamoDB table keyed by ``task`` (string), one item per task.

    The new table is on-demand, has point-in-time recovery and deletion
    protection, is retained when the stack is deleted, and is encrypted with
    a customer-managed key when ``encryption_key`` is given, else with the
    AWS-managed key.

    Parameters
    ----------
    table
        An existing table to use; its partition key must be ``task`` (string).
        Default: a new table.
    table_props
        Overrides for the new table (a dict or ``dynamodb.TableProps``).
        ``partition_key`` and ``encryption_key`` are set by the construct.
        Default: the settings above.
    encryption_key
        A customer-managed KMS key for the new table. Default: the AWS-managed
        key (``alias/aws/dynamodb``).

    Attributes
    ----------
    table : dynamodb.ITable
        The table created or passed in.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: Optional[dynamodb.ITable] = None,
        table_props: Props = None,
        encryption_key: Optional[kms.IKey] = None,
    ) -> None:
        super().__init__(scope, construct_id)
        checker = PropsChecker("TaskStateTable")
        checker.exclusive("table", table, "table_props", table_props)
        checker.only_with_new("table", table, "encryption_key", encryption_key)
        checker.not_overridden(
            "table_props",
            table_props,
            {
                "partition_key": f"the handler reads items by the string key {PARTITION_KEY!r}",
                "encryption_key": "pass the key in encryption_key",
            },
        )
        checker.raise_if_any()

        if table is not None:
            self.table: dynamodb.ITable = table
            return

        if encryption_key is not None:
            encryption = {
                "encryption": dynamodb.TableEncryption.CUSTOMER_MANAGED,
                "encryption_key": encryption_key,
            }
        else:
            encryption = {"encryption": dynamodb.TableEncryption.AWS_MANAGED}
        props = merge_props(
            {
                "billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
                "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                "deletion_protection": True,
                "removal_policy": RemovalPolicy.RETAIN,
                **encryption,
            },
            table_props,
            {
                "partition_key": dynamodb.Attribute(
                    name=PARTITION_KEY, type=dynamodb.AttributeType.STRING
                )
            },
        )
        self.table = dynamodb.Table(self, "Table", **props)

    @property
    def table_name(self) -> str:
        """The table's name."""
        return self.table.table_name

    def grant_read_write_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read and write items (and to use the table's key)."""
        return self.table.grant_read_write_data(grantee)

    def grant_read_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read items, as the CLI does for ``okeanos status``."""
        return self.table.grant_read_data(grantee)
