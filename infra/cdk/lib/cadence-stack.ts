// The Cadence stack, resource for resource the same as infra/template.yaml (SAM). Keep the two in step:
// infra/parity.py compares resource types and counts, parameters, conditions and rules, HTTP routes, environment
// variables (names and values), IAM grants (action, resource, condition), outputs and the dashboard body.
//
// # Layout
//   parameters   same names, defaults and patterns as the SAM template; optional features default to ""
//   conditions   which optional grants exist; rules: NotifyUrl needs its secret and excludes EventBusName
//   storage      CadenceTable (single table, sparse GSI1)
//   queues       TouchQueue + TouchDLQ (also the Scheduler target DLQ), TLS-only policies
//   scheduling   ScheduleGroup, SchedulerRole, sweeper schedule + its role
//   functions    RustFunction (cargo-lambda-cdk) x3, each with its own role (inline policy) and log group
//   http api     GET/POST /webhook, POST /booking/{cal,calendly}, POST /data-deletion, GET /data-deletion/status
//                (one Lambda integration), JSON access logs, throttling
//   alarms       DLQ depth, errors, 5xx, throttles
//   dashboard    EMF funnel (SEARCH over namespace Cadence), Lambda, queues, HTTP API, alarm states
//
// Design notes, shared with the SAM template (the comments there say why in more detail):
// - Every role is explicit with inline statements (no AWSLambdaBasicExecutionRole, no grant helpers), so
//   the actions are exactly those listed here and `cdk-nag` sees the same documents as cfn-lint does.
// - Function names are fixed (<stack>-webhook, ...) so each role can be scoped to its own log group without
//   a dependency cycle; the log groups (with retention) are named after the functions.
// - Low-level (L1) constructs are used where L2 helpers would add resources the SAM template does not have
//   (grant-generated AWS::IAM::Policy, LambdaInvoke target roles), or render differently (the dashboard body
//   is the SAM template's JSON, built as an object here, not L2 widgets).
// - Grants for optional features exist only when the feature's parameter is set: Fn::If on a resource, or the
//   conditional NotifyPolicy (the EventBridge bus), exactly as in the SAM template.
import * as path from 'node:path';
import {
  Aws,
  CfnCondition,
  CfnOutput,
  CfnParameter,
  CfnRule,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct, IConstruct } from 'constructs';

/** The repository's workspace manifest: cargo-lambda builds `--bin <binaryName>` from the workspace root. */
const WORKSPACE_MANIFEST = path.join(__dirname, '..', '..', '..', 'Cargo.toml');

const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** Acknowledge one cdk-nag finding (exact finding id, e.g. `AwsSolutions-IAM5[Resource::*]`) with a reason. */
function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

export class CadenceStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    // ---------------------------------------------------------------------------------------------------
    // Parameters
    // ---------------------------------------------------------------------------------------------------
    const ssmName = '^/[A-Za-z0-9_.\\-/]+$';
    const appSecretParam = new CfnParameter(this, 'AppSecretParameterName', {
      type: 'String',
      default: '/cadence/meta/app-secret',
      allowedPattern: ssmName,
      description: 'SSM SecureString parameter holding the Meta app secret (X-Hub-Signature-256 check).',
    });
    const verifyTokenParam = new CfnParameter(this, 'VerifyTokenParameterName', {
      type: 'String',
      default: '/cadence/meta/verify-token',
      allowedPattern: ssmName,
      description: 'SSM SecureString parameter holding the webhook verify token typed into the Meta dashboard.',
    });
    const accountsParam = new CfnParameter(this, 'AccountsParameterName', {
      type: 'String',
      default: '/cadence/accounts',
      allowedPattern: ssmName,
      description: 'SSM String parameter holding the accounts YAML (Pages, IG accounts, WhatsApp numbers, cadences).',
    });
    const tokenPrefix = new CfnParameter(this, 'TokenParameterPrefix', {
      type: 'String',
      default: '/cadence/tokens/',
      allowedPattern: '^/[A-Za-z0-9_.\\-/]*/$',
      description:
        'Path prefix (leading and trailing slash) of the SecureString parameters that hold Page / IG / WhatsApp ' +
        'access tokens, referenced from the accounts YAML as ssm:/cadence/tokens/... Token reads are confined to ' +
        'this prefix.',
    });
    const emailFrom = new CfnParameter(this, 'EmailFrom', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^[^@\\s]+@[^@\\s]+$',
      description:
        'Fallback From address (a verified SES identity) of day-14 emails, for accounts whose YAML entry sets no ' +
        'sender of its own. Empty = only accounts with their own sender address send email.',
    });
    const contactList = new CfnParameter(this, 'ContactListName', {
      type: 'String',
      default: 'newsletter',
      allowedPattern: '^[A-Za-z0-9_-]{1,64}$',
      description: 'SESv2 contact list that finished leads are handed to (newsletter handoff).',
    });
    const logRetention = new CfnParameter(this, 'LogRetentionDays', {
      type: 'Number',
      default: '30', // a string, like the AllowedValues CDK writes
      allowedValues: RETENTION_DAYS.map(String),
      description: 'Retention of the function and API access log groups.',
    });
    const logLevel = new CfnParameter(this, 'LogLevel', {
      type: 'String',
      default: 'info',
      description: 'RUST_LOG filter of the functions (tracing EnvFilter syntax, e.g. info or cadence_aws=debug,info).',
    });
    const alarmTopic = new CfnParameter(this, 'AlarmTopicArn', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$',
      description: 'Optional SNS topic for alarm and OK notifications. Empty = alarms without actions.',
    });
    const groupName = new CfnParameter(this, 'ScheduleGroupName', {
      type: 'String',
      default: 'cadence',
      allowedPattern: '^[0-9a-zA-Z-_.]{1,64}$',
      description: 'EventBridge Scheduler group holding the one-shot touch schedules of this deployment.',
    });
    const sesConfigurationSet = new CfnParameter(this, 'SesConfigurationSetName', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^[A-Za-z0-9_-]{1,64}$',
      description:
        'Optional SESv2 configuration set applied to every email (event publishing: deliveries, bounces, ' +
        'complaints). Empty = none.',
    });
    const optionalSsmName = '^$|^/[A-Za-z0-9_.\\-/]+$';
    const calSecretParam = new CfnParameter(this, 'CalWebhookSecretParameterName', {
      type: 'String',
      default: '',
      allowedPattern: optionalSsmName,
      description:
        'Optional SSM SecureString holding the Cal.com webhook secret (X-Cal-Signature-256 check). Empty = the ' +
        'route POST /booking/cal is off and answers 404.',
    });
    const calendlyKeyParam = new CfnParameter(this, 'CalendlySigningKeyParameterName', {
      type: 'String',
      default: '',
      allowedPattern: optionalSsmName,
      description:
        'Optional SSM SecureString holding the Calendly webhook signing key (Calendly-Webhook-Signature check). ' +
        'Empty = the route POST /booking/calendly is off and answers 404.',
    });
    const eventBus = new CfnParameter(this, 'EventBusName', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^[A-Za-z0-9._\\-]{1,256}$',
      description:
        'Optional EventBridge bus (a name, in this account and region) that gets handoff, booking and resume ' +
        'notifications as events with source cadence. Empty = no bus. Set this or NotifyUrl, not both.',
    });
    const notifyUrl = new CfnParameter(this, 'NotifyUrl', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^https://\\S+$',
      description:
        'Optional HTTPS URL that gets the same notifications as JSON POSTs signed with X-Cadence-Signature ' +
        '(HMAC-SHA256). Needs NotifySecretParameterName. Empty = no POSTs (notifications are only logged unless ' +
        'EventBusName is set).',
    });
    const notifySecretParam = new CfnParameter(this, 'NotifySecretParameterName', {
      type: 'String',
      default: '',
      allowedPattern: optionalSsmName,
      description: 'SSM SecureString holding the HMAC secret that signs the NotifyUrl POSTs. Required with NotifyUrl.',
    });
    const metrics = new CfnParameter(this, 'Metrics', {
      type: 'String',
      default: 'on',
      allowedValues: ['on', 'off'],
      description:
        'CloudWatch Embedded Metric Format lines (namespace Cadence; sent, skipped, replied, booked, opted_out per ' +
        "cadence and step) from every lead write. off = none, and the dashboard's funnel widgets stay empty.",
    });
    const sweepLimit = new CfnParameter(this, 'SweepLimit', {
      type: 'Number',
      default: '500', // a string, like the default CDK writes for LogRetentionDays
      minValue: 1,
      maxValue: 5000,
      description:
        'Leads the sweeper examines per 15-minute pass (the oldest due first); the rest wait for the next pass. ' +
        "Each lead costs a few DynamoDB round-trips, so keep it well inside the sweeper's 120 s timeout.",
    });

    acknowledge(
      this,
      'CloudFormation-Validate::W2509',
      'AppSecretParameterName is the NAME of the SSM SecureString that holds the secret, not the secret: the ' +
        'value is read and decrypted by the function at init and never passes through CloudFormation.',
    );

    const isSet = (p: CfnParameter) => Fn.conditionNot(Fn.conditionEquals(p.valueAsString, ''));
    const hasAlarmTopic = new CfnCondition(this, 'HasAlarmTopic', { expression: isSet(alarmTopic) });
    const hasSesConfigurationSet = new CfnCondition(this, 'HasSesConfigurationSet', {
      expression: isSet(sesConfigurationSet),
    });
    const hasCalSecret = new CfnCondition(this, 'HasCalSecret', { expression: isSet(calSecretParam) });
    const hasCalendlyKey = new CfnCondition(this, 'HasCalendlyKey', { expression: isSet(calendlyKeyParam) });
    const hasEventBus = new CfnCondition(this, 'HasEventBus', { expression: isSet(eventBus) });
    // The notify secret is read (and granted) only when there is a URL to sign for; the rules make a URL come
    // with a secret and without a bus (the code prefers the bus and would never call the URL).
    const hasNotifyUrl = new CfnCondition(this, 'HasNotifyUrl', { expression: isSet(notifyUrl) });
    new CfnRule(this, 'NotifyUrlNeedsSecret', {
      ruleCondition: isSet(notifyUrl),
      assertions: [
        {
          assert: isSet(notifySecretParam),
          assertDescription: 'NotifyUrl needs NotifySecretParameterName (the SSM SecureString with the HMAC secret).',
        },
      ],
    });
    new CfnRule(this, 'OneNotifier', {
      ruleCondition: isSet(eventBus),
      assertions: [
        {
          assert: Fn.conditionEquals(notifyUrl.valueAsString, ''),
          assertDescription: 'Set EventBusName or NotifyUrl, not both (with a bus the URL is never called).',
        },
      ],
    });
    /** `value` when `condition` holds, else nothing (AWS::NoValue drops it from its list). */
    const onlyIf = (condition: CfnCondition, value: string) =>
      Fn.conditionIf(condition.logicalId, value, Aws.NO_VALUE).toString();

    const arn = (service: string, resource: string) =>
      `arn:${Aws.PARTITION}:${service}:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;
    const paramArn = (name: string) => arn('ssm', `parameter${name}`);

    // ---------------------------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------------------------
    const table = new dynamodb.Table(this, 'CadenceTable', {
      partitionKey: { name: 'PK', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'SK', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'ttl',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Leads, touches and the audit trail are the business record: kept when the stack is deleted.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Sparse index of items with sweeper work; projection ALL (see the SAM template for why).
    table.addGlobalSecondaryIndex({
      indexName: 'GSI1',
      partitionKey: { name: 'GSI1PK', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'GSI1SK', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    // ---------------------------------------------------------------------------------------------------
    // Queues
    // ---------------------------------------------------------------------------------------------------
    const dlq = new sqs.Queue(this, 'TouchDLQ', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const queue = new sqs.Queue(this, 'TouchQueue', {
      // 6 x the send function timeout (30 s).
      visibilityTimeout: Duration.seconds(180),
      retentionPeriod: Duration.days(4),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: dlq, maxReceiveCount: 5 },
    });

    // ---------------------------------------------------------------------------------------------------
    // Scheduling
    // ---------------------------------------------------------------------------------------------------
    const group = new scheduler.CfnScheduleGroup(this, 'ScheduleGroup', { name: groupName.valueAsString });

    const schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'Cadence touch schedules deliver {v, lead_id, plan, step} to the touches queue.',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnEquals: { 'aws:SourceArn': arn('scheduler', `schedule-group/${groupName.valueAsString}`) },
      }),
      inlinePolicies: {
        'send-touch': new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn, dlq.queueArn] }),
          ],
        }),
      },
    });

    // Statements the three functions share.
    const logsStatement = (fn: string) =>
      new iam.PolicyStatement({
        sid: 'Logs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [arn('logs', `log-group:/aws/lambda/${Aws.STACK_NAME}-${fn}:*`)],
      });
    const tracingStatement = () =>
      new iam.PolicyStatement({
        sid: 'Tracing',
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
        resources: ['*'],
      });
    // TransactWriteItems is not an IAM action: a transaction is authorized item by item (PutItem, UpdateItem,
    // ConditionCheckItem).
    const itemActions = [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:Query',
      'dynamodb:ConditionCheckItem',
    ];
    const gsiArn = `${table.tableArn}/index/GSI1`;
    const scheduleStatements = () => [
      new iam.PolicyStatement({
        sid: 'Schedules',
        actions: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'],
        resources: [arn('scheduler', `schedule/${groupName.valueAsString}/*`)],
      }),
      new iam.PolicyStatement({
        sid: 'PassSchedulerRole',
        actions: ['iam:PassRole'],
        resources: [schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    ];
    const sendTouchStatement = () =>
      new iam.PolicyStatement({ sid: 'Touches', actions: ['sqs:SendMessage'], resources: [queue.queueArn] });
    const contactListArn = arn('ses', `contact-list/${contactList.valueAsString}`);
    const newsletterStatement = () =>
      new iam.PolicyStatement({ sid: 'Newsletter', actions: ['ses:CreateContact'], resources: [contactListArn] });
    const decryptStatement = (sid: string, parameterArns: string[]) =>
      new iam.PolicyStatement({
        sid,
        actions: ['kms:Decrypt'],
        resources: [arn('kms', 'key/*')],
        conditions: {
          StringEquals: { 'kms:ViaService': `ssm.${Aws.REGION}.amazonaws.com` },
          StringLike: { 'kms:EncryptionContext:PARAMETER_ARN': parameterArns },
        },
      });
    // All three functions build the same services at init (shared/aws build_services): that reads the accounts
    // YAML and resolves every ssm:/... token reference in it, failing the cold start if one cannot be read. So
    // every role may read and decrypt parameters under TokenParameterPrefix; only send uses the tokens.
    const tokenParamArn = paramArn(`${tokenPrefix.valueAsString}*`);
    // build_services also builds the notifier: it reads the NotifyUrl secret at init when NotifyUrl is set, and
    // puts events on EventBusName when that is set, in all three functions.
    const notifySecretArn = onlyIf(hasNotifyUrl, paramArn(notifySecretParam.valueAsString));
    const acknowledgeTokenWildcard = (role: iam.Role) =>
      acknowledge(
        role,
        'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter<TokenParameterPrefix>*]',
        'Access tokens are referenced from the accounts YAML (ssm:/...), one per Page / IG account / WhatsApp ' +
          'number, and change without a deploy; reads are confined to the TokenParameterPrefix path.',
      );
    const lambdaRole = (roleId: string, description: string, policyName: string, statements: iam.PolicyStatement[]) =>
      new iam.Role(this, roleId, {
        description,
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        inlinePolicies: { [policyName]: new iam.PolicyDocument({ statements }) },
      });

    // cdk-nag AwsSolutions-IAM5 (wildcards) findings every function role has, each acknowledged with its reason.
    const acknowledgeSharedWildcards = (role: iam.Role, fn: string) => {
      acknowledge(
        role,
        `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/lambda/<AWS::StackName>-${fn}:*]`,
        "Log streams of the function's own log group only: stream names are chosen by Lambda at run time.",
      );
      acknowledge(
        role,
        'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        'xray:PutTraceSegments / PutTelemetryRecords (active tracing) support no resource-level permissions.',
      );
    };
    const acknowledgeScheduleWildcard = (role: iam.Role) =>
      acknowledge(
        role,
        'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/<ScheduleGroupName>/*]',
        'Touch schedules are created per (lead, plan, step) at run time; the wildcard is limited to this ' +
          "deployment's schedule group and to CreateSchedule / DeleteSchedule.",
      );
    const acknowledgeDecryptWildcard = (role: iam.Role) =>
      acknowledge(
        role,
        'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]',
        'The key behind a SecureString (aws/ssm or a customer key) is not known to the stack; kms:Decrypt is ' +
          'limited to calls made by SSM (kms:ViaService) for the listed parameter ARNs (encryption context).',
      );

    // What all three functions read (shared/aws AwsConfig + build_services); each function adds its own, and IAM
    // decides what each one may touch. Left at their code defaults: GRAPH_API_VERSION (v25.0), GRAPH_API_URL.
    const sharedEnvironment: Record<string, string> = {
      CADENCE_TABLE: table.tableName,
      CADENCE_TOUCH_QUEUE_URL: queue.queueUrl,
      CADENCE_TOUCH_QUEUE_ARN: queue.queueArn,
      CADENCE_SCHEDULE_GROUP: group.ref,
      CADENCE_SCHEDULER_ROLE_ARN: schedulerRole.roleArn,
      // The touches DLQ doubles as the Scheduler target DLQ.
      CADENCE_SCHEDULER_DLQ_ARN: dlq.queueArn,
      CADENCE_ACCOUNTS_PARAM: accountsParam.valueAsString,
      // Any lead write may raise a notification (handoff, booking, cancellation, auto-resume) and all three
      // functions write leads, so all three build the notifier: the bus, else a signed POST, else the log.
      CADENCE_EVENT_BUS: eventBus.valueAsString,
      CADENCE_NOTIFY_URL: notifyUrl.valueAsString,
      CADENCE_NOTIFY_SECRET_PARAM: notifySecretParam.valueAsString,
      // EMF funnel lines are printed by the store wrapper of every function ("off" disables them).
      CADENCE_METRICS: metrics.valueAsString,
      // The functions' JSON logger reads RUST_LOG (the CLI reads CADENCE_LOG).
      RUST_LOG: logLevel.valueAsString,
    };

    const rustFunction = (
      fnId: string,
      suffix: string,
      binaryName: string,
      description: string,
      timeout: Duration,
      role: iam.Role,
      extraEnvironment: Record<string, string> = {},
    ) => {
      const fn = new RustFunction(this, fnId, {
        manifestPath: WORKSPACE_MANIFEST,
        binaryName,
        functionName: `${Aws.STACK_NAME}-${suffix}`,
        description,
        architecture: lambda.Architecture.ARM_64,
        // 256 MB on arm64: small binaries that mostly wait on the network; the CPU share keeps TLS and cold
        // starts quick.
        memorySize: 256,
        timeout,
        role,
        environment: { ...sharedEnvironment, ...extraEnvironment },
      });
      // Active tracing set on the L1 resource: the L2 `tracing` option would add the X-Ray statement through a
      // separate AWS::IAM::Policy; the role's inline policy already has it.
      (fn.node.defaultChild as lambda.CfnFunction).tracingConfig = { mode: 'Active' };
      new logs.LogGroup(this, `${fnId.replace(/Function$/, '')}LogGroup`, {
        logGroupName: `/aws/lambda/${fn.functionName}`,
        retention: logRetention.valueAsNumber as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      return fn;
    };

    // ---------------------------------------------------------------------------------------------------
    // Webhook function
    // ---------------------------------------------------------------------------------------------------
    // Booking secrets (each only when configured) and the notify secret (only with NotifyUrl).
    const webhookOptionalSecretArns = [
      onlyIf(hasCalSecret, paramArn(calSecretParam.valueAsString)),
      onlyIf(hasCalendlyKey, paramArn(calendlyKeyParam.valueAsString)),
      notifySecretArn,
    ];
    const webhookRole = lambdaRole('WebhookRole', 'Cadence webhook function', 'webhook', [
      logsStatement('webhook'),
      tracingStatement(),
      new iam.PolicyStatement({ sid: 'Table', actions: itemActions, resources: [table.tableArn, gsiArn] }),
      ...scheduleStatements(),
      sendTouchStatement(),
      // Data deletion (POST /data-deletion, Services::delete_user): a lead's partition is listed with Query
      // (granted above) and removed with BatchWriteItem delete requests; its schedule with DeleteSchedule.
      new iam.PolicyStatement({ sid: 'DataDeletion', actions: ['dynamodb:BatchWriteItem'], resources: [table.tableArn] }),
      new iam.PolicyStatement({
        sid: 'Config',
        actions: ['ssm:GetParameter'],
        resources: [
          paramArn(appSecretParam.valueAsString),
          paramArn(verifyTokenParam.valueAsString),
          paramArn(accountsParam.valueAsString),
          tokenParamArn,
          ...webhookOptionalSecretArns,
        ],
      }),
      decryptStatement('DecryptSecrets', [
        paramArn(appSecretParam.valueAsString),
        paramArn(verifyTokenParam.valueAsString),
        tokenParamArn,
        ...webhookOptionalSecretArns,
      ]),
    ]);
    acknowledgeSharedWildcards(webhookRole, 'webhook');
    acknowledgeScheduleWildcard(webhookRole);
    acknowledgeDecryptWildcard(webhookRole);
    acknowledgeTokenWildcard(webhookRole);
    // Meta wants a 200 within 5 s; a request is a few DynamoDB round-trips. 10 s covers a cold start + retries.
    const webhook = rustFunction(
      'WebhookFunction',
      'webhook',
      'cadence-webhook',
      'Meta webhook, booking webhooks, data-deletion callback -> dedupe, decide, plan touches.',
      Duration.seconds(10),
      webhookRole,
      {
        META_APP_SECRET_PARAM: appSecretParam.valueAsString,
        META_VERIFY_TOKEN_PARAM: verifyTokenParam.valueAsString,
        // Booking webhook secrets, read at cold start; "" = the route answers 404.
        CAL_WEBHOOK_SECRET_PARAM: calSecretParam.valueAsString,
        CALENDLY_SIGNING_KEY_PARAM: calendlyKeyParam.valueAsString,
      },
    );

    // ---------------------------------------------------------------------------------------------------
    // Send function
    // ---------------------------------------------------------------------------------------------------
    const sendRole = lambdaRole('SendRole', 'Cadence send function', 'send', [
      logsStatement('send'),
      tracingStatement(),
      new iam.PolicyStatement({ sid: 'Table', actions: itemActions, resources: [table.tableArn, gsiArn] }),
      new iam.PolicyStatement({
        sid: 'ConsumeTouches',
        actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'],
        resources: [queue.queueArn],
      }),
      sendTouchStatement(),
      ...scheduleStatements(),
      new iam.PolicyStatement({
        sid: 'Config',
        actions: ['ssm:GetParameter'],
        resources: [paramArn(accountsParam.valueAsString), tokenParamArn, notifySecretArn],
      }),
      decryptStatement('DecryptSecrets', [tokenParamArn, notifySecretArn]),
      // Sender addresses come from the accounts YAML (EmailFrom is the fallback) and change without a deploy.
      // With SesConfigurationSetName, SendEmail is also authorized against that configuration set.
      new iam.PolicyStatement({
        sid: 'Email',
        actions: ['ses:SendEmail'],
        resources: [
          arn('ses', 'identity/*'),
          onlyIf(hasSesConfigurationSet, arn('ses', `configuration-set/${sesConfigurationSet.valueAsString}`)),
        ],
      }),
      newsletterStatement(),
    ]);
    acknowledgeSharedWildcards(sendRole, 'send');
    acknowledgeScheduleWildcard(sendRole);
    acknowledgeDecryptWildcard(sendRole);
    acknowledgeTokenWildcard(sendRole);
    acknowledge(
      sendRole,
      'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*]',
      "Sender addresses are set per account in the accounts YAML (EmailFrom is the fallback) and change without " +
        "a deploy; the wildcard covers this account's verified identities in this region only, and SES refuses " +
        'unverified senders.',
    );
    // Graph calls time out after 10 s and a touch may need a retry; the queue's visibility timeout is 6 x this.
    const send = rustFunction(
      'SendFunction',
      'send',
      'cadence-send',
      'Touches queue consumer -> window check -> Graph API / SES send -> plan follow-ons.',
      Duration.seconds(30),
      sendRole,
      // Email settings: only send delivers touches (email, newsletter handoff), so only send reads them.
      {
        CADENCE_EMAIL_FROM: emailFrom.valueAsString,
        CADENCE_CONTACT_LIST: contactList.valueAsString,
        CADENCE_SES_CONFIGURATION_SET: sesConfigurationSet.valueAsString,
      },
    );
    // Not `SqsEventSource`: it would grant consume rights through a separate AWS::IAM::Policy. The role above
    // already has them. MaximumConcurrency 10 keeps the deployment under ~50 msg/s (each invocation sends <= 10
    // messages one after the other): below WhatsApp's 80/s per number, Instagram's 100/s, Messenger's 300/s.
    new lambda.EventSourceMapping(this, 'SendFunctionTouches', {
      target: send,
      eventSourceArn: queue.queueArn,
      batchSize: 10,
      reportBatchItemFailures: true,
      maxConcurrency: 10,
    });

    // ---------------------------------------------------------------------------------------------------
    // Sweeper function + its schedule
    // ---------------------------------------------------------------------------------------------------
    const sweeperRole = lambdaRole('SweeperRole', 'Cadence sweeper function', 'sweeper', [
      logsStatement('sweeper'),
      tracingStatement(),
      new iam.PolicyStatement({
        sid: 'Table',
        actions: itemActions.filter((a) => a !== 'dynamodb:Query'),
        resources: [table.tableArn],
      }),
      new iam.PolicyStatement({ sid: 'DueIndex', actions: ['dynamodb:Query'], resources: [gsiArn] }),
      sendTouchStatement(),
      ...scheduleStatements(),
      // No SES: the sweeper only re-queues due touches; the newsletter handoff is a touch that send delivers.
      new iam.PolicyStatement({
        sid: 'Config',
        actions: ['ssm:GetParameter'],
        resources: [paramArn(accountsParam.valueAsString), tokenParamArn, notifySecretArn],
      }),
      decryptStatement('DecryptSecrets', [tokenParamArn, notifySecretArn]),
    ]);
    acknowledgeSharedWildcards(sweeperRole, 'sweeper');
    acknowledgeScheduleWildcard(sweeperRole);
    acknowledgeDecryptWildcard(sweeperRole);
    acknowledgeTokenWildcard(sweeperRole);
    // Notifications on the EventBridge bus, only when EventBusName is set: PutEvents on that bus, and only events
    // whose source is cadence (the source EventBridgeNotifier always sets). One conditional L1 policy for the
    // three roles, as in the SAM template (cdk-nag cannot inspect an inline policy wrapped in Fn::If).
    const notifyPolicy = new iam.CfnPolicy(this, 'NotifyPolicy', {
      policyName: 'notify',
      roles: [webhookRole.roleName, sendRole.roleName, sweeperRole.roleName],
      policyDocument: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'Notify',
            actions: ['events:PutEvents'],
            resources: [arn('events', `event-bus/${eventBus.valueAsString}`)],
            conditions: { StringEquals: { 'events:source': 'cadence' } },
          }),
        ],
      }),
    });
    notifyPolicy.cfnOptions.condition = hasEventBus;

    // Work grows with due items only; 120 s is headroom for a backlog, well inside the 15-minute tick.
    const sweeper = rustFunction(
      'SweeperFunction',
      'sweeper',
      'cadence-sweeper',
      'Every 15 minutes - due items from the sparse GSI -> long tail, resumes, handoffs, repairs.',
      Duration.seconds(120),
      sweeperRole,
      { CADENCE_SWEEP_LIMIT: sweepLimit.valueAsString },
    );

    const sweeperScheduleRole = new iam.Role(this, 'SweeperScheduleRole', {
      description: 'Lets the sweeper schedule invoke the sweeper function.',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      }),
      inlinePolicies: {
        'invoke-sweeper': new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [sweeper.functionArn] }),
          ],
        }),
      },
    });
    new scheduler.CfnSchedule(this, 'SweeperSchedule', {
      description: 'Cadence sweeper tick (long-tail touches, deferral resumes, newsletter handoff, repairs).',
      scheduleExpression: 'rate(15 minutes)',
      flexibleTimeWindow: { mode: 'OFF' },
      state: 'ENABLED',
      target: {
        arn: sweeper.functionArn,
        roleArn: sweeperScheduleRole.roleArn,
        // The sweeper logs the event id; the scheduler fills in its execution id and scheduled time.
        input: JSON.stringify({
          id: '<aws.scheduler.execution-id>',
          time: '<aws.scheduler.scheduled-time>',
          source: 'aws.scheduler',
          'detail-type': 'Scheduled Event',
        }),
        // A missed tick is harmless: the next one is 15 minutes away and the sweep is idempotent.
        retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 300 },
      },
    });

    // ---------------------------------------------------------------------------------------------------
    // HTTP API
    // ---------------------------------------------------------------------------------------------------
    const api = new apigwv2.HttpApi(this, 'WebhookApi', {
      description:
        'Meta webhook, booking webhooks and data-deletion callback (authenticity is checked in the function: ' +
        'X-Hub-Signature-256, booking signatures, signed_request).',
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, 'WebhookApiAccessLogGroup', {
      logGroupName: `/aws/apigateway/${Aws.STACK_NAME}-webhook-access`,
      retention: logRetention.valueAsNumber as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const stage = new apigwv2.HttpStage(this, 'WebhookApiDefaultStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      // Only stops a flood from running up Lambda and DynamoDB costs; Meta retries a 429.
      throttle: { burstLimit: 200, rateLimit: 100 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latency: '$context.responseLatency',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    // One integration for every route (one AWS::ApiGatewayV2::Integration, one Lambda permission per route, as
    // SAM generates). None of the callers can sign AWS requests: each route is authenticated in the function
    // (functions/webhook/src/lib.rs), which is what the APIG4 acknowledgements say route by route.
    const integration = new HttpLambdaIntegration('WebhookIntegration', webhook, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    });
    const route = (routePath: string, methods: apigwv2.HttpMethod[], reason: string) => {
      for (const r of api.addRoutes({ path: routePath, methods, integration })) {
        acknowledge(r, 'AwsSolutions::AwsSolutions-APIG4', reason);
      }
    };
    const { GET, POST } = apigwv2.HttpMethod;
    route(
      '/webhook',
      [GET, POST],
      'Meta calls the webhook without AWS credentials or tokens; every POST is authenticated in the function ' +
        'by the X-Hub-Signature-256 HMAC over the raw body (app secret), GET by the verify token.',
    );
    route(
      '/booking/cal',
      [POST],
      'Cal.com calls its webhook without AWS credentials; the function checks X-Cal-Signature-256 (HMAC-SHA256 ' +
        'of the raw body with the webhook secret) and answers 404 while CalWebhookSecretParameterName is empty.',
    );
    route(
      '/booking/calendly',
      [POST],
      'Calendly calls its webhook without AWS credentials; the function checks Calendly-Webhook-Signature ' +
        '(HMAC-SHA256 with the signing key, timestamp within 5 minutes) and answers 404 while ' +
        'CalendlySigningKeyParameterName is empty.',
    );
    route(
      '/data-deletion',
      [POST],
      "Meta calls the Data Deletion Request Callback without AWS credentials; the function verifies the form's " +
        'signed_request (HMAC-SHA256 with the app secret) before deleting anything (401 otherwise).',
    );
    route(
      '/data-deletion/status',
      [GET],
      'The public status page Meta links a person to after a deletion request: it only says whether a ' +
        'well-formed confirmation code stands for a finished deletion, reads nothing stored and changes nothing.',
    );

    // ---------------------------------------------------------------------------------------------------
    // Alarms
    // ---------------------------------------------------------------------------------------------------
    const actions = Token.asList(Fn.conditionIf(hasAlarmTopic.logicalId, [alarmTopic.valueAsString], Aws.NO_VALUE));
    const alarm = (
      alarmId: string,
      description: string,
      namespace: string,
      metricName: string,
      dimensions: cloudwatch.CfnAlarm.DimensionProperty[],
      statistic: string,
      period: number,
      evaluationPeriods = 1,
    ) =>
      new cloudwatch.CfnAlarm(this, alarmId, {
        alarmDescription: description,
        namespace,
        metricName,
        dimensions,
        statistic,
        period,
        evaluationPeriods,
        threshold: 0,
        comparisonOperator: 'GreaterThanThreshold',
        treatMissingData: 'notBreaching',
        alarmActions: actions,
        okActions: actions,
      });
    const alarms: cloudwatch.CfnAlarm[] = []; // in definition order, for the dashboard's alarm widget
    const alarmWithActions = (...args: Parameters<typeof alarm>) => {
      const a = alarm(...args);
      alarms.push(a);
      acknowledge(
        a,
        'CloudFormation-Validate::W1030',
        'False positive: AlarmActions / OKActions are Fn::If [HasAlarmTopic, [AlarmTopicArn], AWS::NoValue], so ' +
          'the empty default is never used as an action (cfn-lint on the SAM template resolves the condition).',
      );
      return a;
    };
    const fnDim = (fn: lambda.IFunction) => [{ name: 'FunctionName', value: fn.functionName }];

    alarmWithActions(
      'TouchDLQDepthAlarm',
      'Touches (or schedule deliveries) dead-lettered. Inspect, fix, then redrive to the touches queue.',
      'AWS/SQS',
      'ApproximateNumberOfMessagesVisible',
      [{ name: 'QueueName', value: dlq.queueName }],
      'Maximum',
      300,
    );
    alarmWithActions(
      'SendErrorsAlarm',
      'The send function failed whole invocations (crash or timeout), not single touches.',
      'AWS/Lambda',
      'Errors',
      fnDim(send),
      'Sum',
      300,
    );
    alarmWithActions(
      'SweeperErrorsAlarm',
      'Two sweeper runs in a row failed; long-tail touches and handoffs are not progressing.',
      'AWS/Lambda',
      'Errors',
      fnDim(sweeper),
      'Sum',
      900,
      2,
    );
    alarmWithActions(
      'Webhook5xxAlarm',
      'The webhook returned 5xx. Meta retries, but unsubscribes a Page / IG account after an hour of failures.',
      'AWS/ApiGateway',
      '5xx',
      [
        { name: 'ApiId', value: api.apiId },
        { name: 'Stage', value: stage.stageName },
      ],
      'Sum',
      300,
    );
    alarmWithActions(
      'WebhookThrottlesAlarm',
      'The webhook function was throttled (account concurrency); Meta sees 5xx and retries.',
      'AWS/Lambda',
      'Throttles',
      fnDim(webhook),
      'Sum',
      300,
    );
    alarmWithActions(
      'SendThrottlesAlarm',
      "The send function was throttled (account concurrency below the event source's maximum).",
      'AWS/Lambda',
      'Throttles',
      fnDim(send),
      'Sum',
      300,
    );
    alarmWithActions(
      'SweeperThrottlesAlarm',
      'The sweeper function was throttled.',
      'AWS/Lambda',
      'Throttles',
      fnDim(sweeper),
      'Sum',
      900,
    );

    // ---------------------------------------------------------------------------------------------------
    // Dashboard (output DashboardUrl): the SAM template's JSON body, built as an object and rendered with
    // toJsonString (parity.py compares the two bodies widget for widget). Funnel: the EMF metrics (namespace
    // Cadence, dimensions cadence + step, shared/aws metrics.rs) through SEARCH, so new cadences and steps
    // appear without a deploy; then the HTTP API, the functions, the queues and every alarm's state.
    // ---------------------------------------------------------------------------------------------------
    const funnelSearch = (name: string) =>
      `SEARCH('{Cadence,cadence,step} MetricName="${name}"', 'Sum', 3600)`;
    const metricWidget = (
      x: number,
      y: number,
      width: number,
      title: string,
      period: number,
      stat: string,
      widgetMetrics: unknown[][],
    ) => ({
      type: 'metric',
      x,
      y,
      width,
      height: 6,
      properties: {
        title,
        region: Aws.REGION,
        view: 'timeSeries',
        stacked: false,
        period,
        stat,
        metrics: widgetMetrics,
      },
    });
    const perStep = (x: number, y: number, width: number, name: string, title: string) =>
      metricWidget(x, y, width, `${title} per cadence and step (per hour)`, 3600, 'Sum', [
        [{ id: name, expression: funnelSearch(name) }],
      ]);
    const functions: [string, lambda.IFunction][] = [
      ['webhook', webhook],
      ['send', send],
      ['sweeper', sweeper],
    ];
    const lambdaWidget = (x: number, title: string, metricName: string, stat: string) =>
      metricWidget(
        x,
        21,
        6,
        title,
        300,
        stat,
        functions.map(([label, fn]) => ['AWS/Lambda', metricName, 'FunctionName', fn.functionName, { label }]),
      );
    const apiDims = ['ApiId', api.apiId, 'Stage', stage.stageName];
    const queueMetric = (q: sqs.IQueue, metricName: string, options: Record<string, string>) => [
      'AWS/SQS',
      metricName,
      'QueueName',
      q.queueName,
      options,
    ];
    const dashboard = new cloudwatch.CfnDashboard(this, 'CadenceDashboard', {
      dashboardName: Aws.STACK_NAME,
      dashboardBody: this.toJsonString({
        start: '-P7D',
        periodOverride: 'auto',
        widgets: [
          {
            type: 'alarm',
            x: 0,
            y: 0,
            width: 24,
            height: 3,
            properties: { title: 'Alarms', alarms: alarms.map((a) => a.attrArn) },
          },
          metricWidget(
            0,
            3,
            12,
            'Funnel, all cadences and steps (per hour)',
            3600,
            'Sum',
            ['sent', 'replied', 'booked', 'opted_out', 'skipped'].map((n) => [
              { id: n, label: n, expression: `SUM(${funnelSearch(n)})` },
            ]),
          ),
          perStep(12, 3, 12, 'sent', 'Sent'),
          perStep(0, 9, 8, 'replied', 'Replied'),
          perStep(8, 9, 8, 'booked', 'Booked'),
          perStep(16, 9, 8, 'opted_out', 'Opted out'),
          perStep(0, 15, 8, 'skipped', 'Skipped'),
          metricWidget(8, 15, 8, 'HTTP API requests and errors', 300, 'Sum', [
            ['AWS/ApiGateway', 'Count', ...apiDims, { label: 'requests' }],
            ['AWS/ApiGateway', '4xx', ...apiDims, { label: '4xx' }],
            ['AWS/ApiGateway', '5xx', ...apiDims, { label: '5xx' }],
          ]),
          metricWidget(16, 15, 8, 'HTTP API latency (p99, ms)', 300, 'p99', [
            ['AWS/ApiGateway', 'Latency', ...apiDims, { label: 'latency' }],
            ['AWS/ApiGateway', 'IntegrationLatency', ...apiDims, { label: 'integration latency' }],
          ]),
          lambdaWidget(0, 'Lambda invocations', 'Invocations', 'Sum'),
          lambdaWidget(6, 'Lambda errors', 'Errors', 'Sum'),
          lambdaWidget(12, 'Lambda throttles', 'Throttles', 'Sum'),
          lambdaWidget(18, 'Lambda duration (p99, ms)', 'Duration', 'p99'),
          metricWidget(0, 27, 12, 'Touches queue', 300, 'Maximum', [
            queueMetric(queue, 'ApproximateNumberOfMessagesVisible', { label: 'visible' }),
            queueMetric(queue, 'ApproximateNumberOfMessagesDelayed', { label: 'delayed (due within 15 min)' }),
            queueMetric(queue, 'ApproximateAgeOfOldestMessage', { label: 'age of oldest (s)', yAxis: 'right' }),
          ]),
          metricWidget(12, 27, 12, 'Dead-letter queue (alarmed; redrive to the touches queue)', 300, 'Maximum', [
            queueMetric(dlq, 'ApproximateNumberOfMessagesVisible', { label: 'dead letters' }),
          ]),
        ],
      }),
    });

    // ---------------------------------------------------------------------------------------------------
    // Outputs
    // ---------------------------------------------------------------------------------------------------
    const apiUrl = `https://${api.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    new CfnOutput(this, 'WebhookUrl', {
      description: 'Callback URL for the Meta app dashboard (Messenger, Instagram and WhatsApp webhooks).',
      value: `${apiUrl}/webhook`,
    });
    new CfnOutput(this, 'DataDeletionCallbackUrl', {
      description:
        'Data deletion callback URL for the Meta app (App settings > Basic > User data deletion); its answers link ' +
        'to /data-deletion/status on the same host.',
      value: `${apiUrl}/data-deletion`,
    });
    new CfnOutput(this, 'CalBookingWebhookUrl', {
      condition: hasCalSecret,
      description:
        'Subscriber URL of the Cal.com webhook (Settings > Developer > Webhooks), signed with the secret in ' +
        'CalWebhookSecretParameterName.',
      value: `${apiUrl}/booking/cal`,
    });
    new CfnOutput(this, 'CalendlyBookingWebhookUrl', {
      condition: hasCalendlyKey,
      description:
        'Callback URL of the Calendly webhook subscription (API v2), signed with the key in ' +
        'CalendlySigningKeyParameterName.',
      value: `${apiUrl}/booking/calendly`,
    });
    new CfnOutput(this, 'TableName', {
      description: 'DynamoDB table (retained when the stack is deleted).',
      value: table.tableName,
    });
    new CfnOutput(this, 'TouchQueueUrl', { description: 'SQS touches queue.', value: queue.queueUrl });
    new CfnOutput(this, 'TouchDLQUrl', {
      description: 'Dead-letter queue of touches and of failed schedule deliveries (alarmed).',
      value: dlq.queueUrl,
    });
    new CfnOutput(this, 'TouchScheduleGroup', {
      description: 'EventBridge Scheduler group holding one schedule per pending touch.',
      value: group.ref,
    });
    new CfnOutput(this, 'SchedulesConsoleUrl', {
      description: 'EventBridge Scheduler console; filter the schedule list by the group above to see pending touches.',
      value: `https://${Aws.REGION}.console.aws.amazon.com/scheduler/home?region=${Aws.REGION}#schedules`,
    });
    new CfnOutput(this, 'DashboardUrl', {
      description: 'CloudWatch dashboard - funnel per cadence and step, functions, queues, HTTP API, alarms.',
      value: `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards/dashboard/${dashboard.ref}`,
    });
  }
}
