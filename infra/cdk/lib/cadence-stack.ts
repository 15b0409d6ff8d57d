// The Cadence stack, resource for resource the same as infra/template.yaml (SAM). Keep the two in step:
// infra/parity.py compares resource types and counts, environment variable names and IAM actions.
//
// # Layout
//   parameters   same names, defaults and patterns as the SAM template
//   storage      CadenceTable (single table, sparse GSI1)
//   queues       TouchQueue + TouchDLQ (also the Scheduler target DLQ), TLS-only policies
//   scheduling   ScheduleGroup, SchedulerRole, sweeper schedule + its role
//   functions    RustFunction (cargo-lambda-cdk) x3, each with its own role (inline policy) and log group
//   http api     GET/POST /webhook, JSON access logs, throttling
//   alarms       DLQ depth, errors, 5xx, throttles
//
// Design notes, shared with the SAM template (the comments there say why in more detail):
// - Every role is explicit with inline statements (no AWSLambdaBasicExecutionRole, no grant helpers), so
//   the actions are exactly those listed here and `cdk-nag` sees the same documents as cfn-lint does.
// - Function names are fixed (<stack>-webhook, ...) so each role can be scoped to its own log group without
//   a dependency cycle; the log groups (with retention) are named after the functions.
// - Low-level (L1) constructs are used where L2 helpers would add resources the SAM template does not have
//   (grant-generated AWS::IAM::Policy, LambdaInvoke target roles).
import * as path from 'node:path';
import {
  Aws,
  CfnCondition,
  CfnOutput,
  CfnParameter,
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

    acknowledge(
      this,
      'CloudFormation-Validate::W2509',
      'AppSecretParameterName is the NAME of the SSM SecureString that holds the secret, not the secret: the ' +
        'value is read and decrypted by the function at init and never passes through CloudFormation.',
    );

    const hasAlarmTopic = new CfnCondition(this, 'HasAlarmTopic', {
      expression: Fn.conditionNot(Fn.conditionEquals(alarmTopic.valueAsString, '')),
    });

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

    // Non-secret configuration every function gets; IAM decides what each one may touch. Optional variables left
    // at their code defaults: GRAPH_API_VERSION, GRAPH_API_URL, CADENCE_SES_CONFIGURATION_SET, CADENCE_SWEEP_LIMIT.
    const sharedEnvironment: Record<string, string> = {
      CADENCE_TABLE: table.tableName,
      CADENCE_TOUCH_QUEUE_URL: queue.queueUrl,
      CADENCE_TOUCH_QUEUE_ARN: queue.queueArn,
      CADENCE_SCHEDULE_GROUP: group.ref,
      CADENCE_SCHEDULER_ROLE_ARN: schedulerRole.roleArn,
      // The touches DLQ doubles as the Scheduler target DLQ.
      CADENCE_SCHEDULER_DLQ_ARN: dlq.queueArn,
      CADENCE_ACCOUNTS_PARAM: accountsParam.valueAsString,
      CADENCE_CONTACT_LIST: contactList.valueAsString,
      CADENCE_EMAIL_FROM: emailFrom.valueAsString,
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
    const webhookRole = lambdaRole('WebhookRole', 'Cadence webhook function', 'webhook', [
      logsStatement('webhook'),
      tracingStatement(),
      new iam.PolicyStatement({ sid: 'Table', actions: itemActions, resources: [table.tableArn, gsiArn] }),
      ...scheduleStatements(),
      sendTouchStatement(),
      new iam.PolicyStatement({
        sid: 'Config',
        actions: ['ssm:GetParameter'],
        resources: [
          paramArn(appSecretParam.valueAsString),
          paramArn(verifyTokenParam.valueAsString),
          paramArn(accountsParam.valueAsString),
          tokenParamArn,
        ],
      }),
      decryptStatement('DecryptSecrets', [
        paramArn(appSecretParam.valueAsString),
        paramArn(verifyTokenParam.valueAsString),
        tokenParamArn,
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
      'Meta webhook (GET verify, POST events) -> dedupe, decide, plan touches.',
      Duration.seconds(10),
      webhookRole,
      {
        META_APP_SECRET_PARAM: appSecretParam.valueAsString,
        META_VERIFY_TOKEN_PARAM: verifyTokenParam.valueAsString,
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
        resources: [paramArn(accountsParam.valueAsString), tokenParamArn],
      }),
      decryptStatement('DecryptTokens', [tokenParamArn]),
      // Sender addresses come from the accounts YAML (EmailFrom is the fallback) and change without a deploy.
      new iam.PolicyStatement({ sid: 'Email', actions: ['ses:SendEmail'], resources: [arn('ses', 'identity/*')] }),
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
        resources: [paramArn(accountsParam.valueAsString), tokenParamArn],
      }),
      decryptStatement('DecryptTokens', [tokenParamArn]),
    ]);
    acknowledgeSharedWildcards(sweeperRole, 'sweeper');
    acknowledgeScheduleWildcard(sweeperRole);
    acknowledgeDecryptWildcard(sweeperRole);
    acknowledgeTokenWildcard(sweeperRole);
    // Work grows with due items only; 120 s is headroom for a backlog, well inside the 15-minute tick.
    const sweeper = rustFunction(
      'SweeperFunction',
      'sweeper',
      'cadence-sweeper',
      'Every 15 minutes - due items from the sparse GSI -> long tail, resumes, handoffs, repairs.',
      Duration.seconds(120),
      sweeperRole,
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
      description: 'Meta webhook endpoint (authenticity is checked in the function with X-Hub-Signature-256).',
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
    const routes = api.addRoutes({
      path: '/webhook',
      methods: [apigwv2.HttpMethod.GET, apigwv2.HttpMethod.POST],
      integration: new HttpLambdaIntegration('WebhookIntegration', webhook, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      }),
    });
    for (const route of routes) {
      acknowledge(
        route,
        'AwsSolutions::AwsSolutions-APIG4',
        'Meta calls the webhook without AWS credentials or tokens; every POST is authenticated in the function ' +
          'by the X-Hub-Signature-256 HMAC over the raw body (app secret), GET by the verify token.',
      );
    }

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
    const alarmWithActions = (...args: Parameters<typeof alarm>) => {
      const a = alarm(...args);
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
    // Outputs
    // ---------------------------------------------------------------------------------------------------
    new CfnOutput(this, 'WebhookUrl', {
      description: 'Callback URL for the Meta app dashboard (Messenger, Instagram and WhatsApp webhooks).',
      value: `https://${api.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}/webhook`,
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
  }
}
