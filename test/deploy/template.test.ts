/**
 * Checks deploy/cloudformation.yml against the code it deploys: the tables against the key
 * design, the task definition against the configuration, the task role against the SDK
 * commands the code sends, and the health check and drain timings against the decisions
 * in docs/deploy.md. Nothing here talks to AWS; cfn-lint (npm run lint:cfn) checks the
 * template against the resource specification.
 */
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, type ScalarTag, type CollectionTag } from 'yaml';
import { ConfigError, parseConfig, variables } from '../../src/config.js';

// Where the code lives. A move of these modules is a change of these three lines.
const TABLE_MODULE = 'src/adapters/dynamodb/table.ts';
const DYNAMODB_CODE = 'src/adapters/dynamodb';
const S3_CODE = 'src/adapters/s3';

const TEMPLATE = 'deploy/cloudformation.yml';
const CONTAINER = 'huddle';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// ------------------------------------------------------------------ reading the template

/** CloudFormation's short forms (!Ref, !Sub, ...) read as their long forms. */
function cloudFormationTags(): (ScalarTag | CollectionTag)[] {
  const functions = [
    'And', 'Base64', 'Cidr', 'Contains', 'EachMemberEquals', 'EachMemberIn', 'Equals', 'FindInMap',
    'GetAZs', 'If', 'ImportValue', 'Join', 'Not', 'Or', 'RefAll', 'Select', 'Split', 'Sub', 'ValueOf', 'ValueOfAll',
  ];
  const tags: (ScalarTag | CollectionTag)[] = [
    { tag: '!Ref', resolve: (value: string) => ({ Ref: value }) },
    { tag: '!Condition', resolve: (value: string) => ({ Condition: value }) },
    {
      tag: '!GetAtt',
      resolve: (value: string) => {
        const dot = value.indexOf('.');
        return { 'Fn::GetAtt': [value.slice(0, dot), value.slice(dot + 1)] };
      },
    },
    { tag: '!GetAtt', collection: 'seq', resolve: (seq) => ({ 'Fn::GetAtt': seq.toJSON() as unknown }) },
  ];
  for (const name of functions) {
    tags.push({ tag: `!${name}`, resolve: (value: string) => ({ [`Fn::${name}`]: value }) });
    tags.push({ tag: `!${name}`, collection: 'seq', resolve: (seq) => ({ [`Fn::${name}`]: seq.toJSON() as unknown }) });
    tags.push({ tag: `!${name}`, collection: 'map', resolve: (map) => ({ [`Fn::${name}`]: map.toJSON() as unknown }) });
  }
  return tags;
}

type Dict = Record<string, unknown>;
const isDict = (value: unknown): value is Dict => typeof value === 'object' && value !== null && !Array.isArray(value);
function dict(value: unknown, what: string): Dict {
  if (!isDict(value)) throw new Error(`${what} is not a mapping`);
  return value;
}
function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list`);
  return value;
}
const asList = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

const template = dict(parse(readFileSync(path.join(root, TEMPLATE), 'utf8'), { customTags: cloudFormationTags() }), 'the template');
const resources = dict(template.Resources, 'Resources');
const parameters = dict(template.Parameters, 'Parameters');
const conditions = dict(template.Conditions ?? {}, 'Conditions');
const mappings = dict(template.Mappings ?? {}, 'Mappings');

/**
 * The template is evaluated for one deployment: parameter defaults plus these, with an
 * image (so the task definition and service exist) and the metrics sidecar on.
 */
const SAMPLE: Record<string, string> = {
  PublicOrigin: 'https://chat.example.com',
  CertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/sample',
  AuthDomainPrefix: 'huddle-sample',
  ImageTag: '0123456789ab',
  BucketName: 'huddle-files-sample',
  RepositoryId: 'example/huddle',
  MetricsAgentImage: 'cloudwatch-agent:sample',
};
const PSEUDO: Record<string, string> = {
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '123456789012',
  'AWS::Partition': 'aws',
  'AWS::StackName': 'huddle',
  'AWS::StackId': 'arn:aws:cloudformation:eu-west-1:123456789012:stack/huddle/sample',
  'AWS::URLSuffix': 'amazonaws.com',
};
const NO_VALUE = Symbol('AWS::NoValue');

/** A template value as text: strings as they are, anything else as JSON. */
const textOf = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

function parameterValue(name: string): unknown {
  const spec = dict(parameters[name], `parameter ${name}`);
  const raw = SAMPLE[name] ?? spec.Default;
  if (raw === undefined) throw new Error(`parameter ${name} has no default and no sample value`);
  if (spec.Type === 'CommaDelimitedList') return textOf(raw).split(',');
  return textOf(raw);
}

function condition(name: string): boolean {
  if (!(name in conditions)) throw new Error(`unknown condition ${name}`);
  return truth(conditions[name]);
}

function truth(node: unknown): boolean {
  const d = dict(node, 'a condition');
  if ('Condition' in d) return condition(String(d.Condition));
  if ('Fn::Equals' in d) {
    const [a, b] = list(d['Fn::Equals'], 'Fn::Equals').map((v) => JSON.stringify(resolve(v)));
    return a === b;
  }
  if ('Fn::Not' in d) return !truth(list(d['Fn::Not'], 'Fn::Not')[0]);
  if ('Fn::And' in d) return list(d['Fn::And'], 'Fn::And').every(truth);
  if ('Fn::Or' in d) return list(d['Fn::Or'], 'Fn::Or').some(truth);
  throw new Error(`unsupported condition ${JSON.stringify(node)}`);
}

const created = (name: string): boolean => {
  const resource = dict(resources[name], `resource ${name}`);
  return resource.Condition === undefined || condition(textOf(resource.Condition));
};

/** What a Ref to a resource returns, for the resource types whose value the checks read. */
function refOf(name: string): string {
  const resource = dict(resources[name], `resource ${name}`);
  if (!created(name)) throw new Error(`Ref to ${name}, which this deployment does not create`);
  switch (resource.Type) {
    case 'AWS::Cognito::UserPool':
      return 'eu-west-1_Sample123';
    case 'AWS::DynamoDB::Table':
    case 'AWS::S3::Bucket': {
      const props = dict(resource.Properties, name);
      const given = resolve(props[resource.Type === 'AWS::S3::Bucket' ? 'BucketName' : 'TableName']);
      return typeof given === 'string' ? given : `generated-${name.toLowerCase()}`;
    }
    case 'AWS::Cognito::UserPoolGroup':
      return String(resolve(dict(resource.Properties, name).GroupName));
    case 'AWS::Cognito::UserPoolDomain':
      return String(resolve(dict(resource.Properties, name).Domain));
    default: {
      // Shaped like a host name, so that values built from it (URLs) stay parseable.
      const value = `ref-${name.toLowerCase()}`;
      placeholders.set(value, name);
      return value;
    }
  }
}
/** The resource behind a placeholder value, for checks that follow a reference. */
const placeholders = new Map<string, string>();
const logicalName = (value: string | undefined) => placeholders.get(value ?? '') ?? '';

function getAtt(name: string, attribute: string): string {
  const resource = dict(resources[name], `resource ${name}`);
  if (!created(name)) throw new Error(`GetAtt of ${name}, which this deployment does not create`);
  if (attribute === 'Arn' && resource.Type === 'AWS::DynamoDB::Table') return `arn:aws:dynamodb:eu-west-1:123456789012:table/${refOf(name)}`;
  if (attribute === 'Arn' && resource.Type === 'AWS::S3::Bucket') return `arn:aws:s3:::${refOf(name)}`;
  return `getatt-${name.toLowerCase()}-${attribute.toLowerCase().replace(/\W/g, '-')}`;
}

/** Evaluates the intrinsic functions of a node for the sample deployment. */
function resolve(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(resolve).filter((v) => v !== NO_VALUE);
  if (!isDict(node)) return node;
  const keys = Object.keys(node);
  if (keys.length === 1) {
    const key = keys[0]!;
    const arg = node[key];
    switch (key) {
      case 'Ref': {
        const name = String(arg);
        if (name === 'AWS::NoValue') return NO_VALUE;
        if (name in PSEUDO) return PSEUDO[name];
        if (name in parameters) return parameterValue(name);
        return refOf(name);
      }
      case 'Fn::GetAtt': {
        const [name, attribute] = list(arg, 'Fn::GetAtt').map(String);
        return getAtt(name!, attribute!);
      }
      case 'Fn::Sub': {
        const [text, vars] = Array.isArray(arg) ? [String(arg[0]), dict(resolve(arg[1]), 'Fn::Sub variables')] : [String(arg), {}];
        return text.replace(/\$\{([^}]+)\}/g, (whole, inner: string) => {
          if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
          if (inner in vars) return String(vars[inner]);
          const dot = inner.indexOf('.');
          if (dot > 0 && !inner.startsWith('AWS::')) return getAtt(inner.slice(0, dot), inner.slice(dot + 1));
          return String(resolve({ Ref: inner }));
        });
      }
      case 'Fn::If': {
        const [name, whenTrue, whenFalse] = list(arg, 'Fn::If');
        return resolve(condition(String(name)) ? whenTrue : whenFalse);
      }
      case 'Fn::Join': {
        const [separator, items] = list(arg, 'Fn::Join');
        return asList(resolve(items)).map(String).join(String(separator));
      }
      case 'Fn::Select': {
        const [index, items] = list(arg, 'Fn::Select');
        return asList(resolve(items))[Number(resolve(index))];
      }
      case 'Fn::Split': {
        const [separator, text] = list(arg, 'Fn::Split');
        return String(resolve(text)).split(String(separator));
      }
      case 'Fn::FindInMap': {
        const [map, top, second] = list(arg, 'Fn::FindInMap').map((v) => String(resolve(v)));
        return dict(dict(mappings[map!], map!)[top!], top!)[second!];
      }
      case 'Fn::GetAZs':
        return ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
      case 'Fn::Cidr':
        return ['10.40.0.0/24', '10.40.1.0/24', '10.40.2.0/24', '10.40.3.0/24'];
    }
  }
  const out: Dict = {};
  for (const [key, value] of Object.entries(node)) {
    const resolved = resolve(value);
    if (resolved !== NO_VALUE) out[key] = resolved;
  }
  return out;
}

const resourceNames = (type: string) => Object.keys(resources).filter((name) => dict(resources[name], name).Type === type && created(name));
const propertiesOf = (name: string) => dict(resolve(dict(resources[name], name).Properties), `${name} properties`);
function only(type: string): string {
  const names = resourceNames(type);
  if (names.length !== 1) throw new Error(`expected one ${type}, found ${names.length}`);
  return names[0]!;
}

// ------------------------------------------------------------------ reading the code

function sourceFiles(dir: string): string[] {
  const absolute = path.join(root, dir);
  return readdirSync(absolute).flatMap((entry) => {
    const full = path.join(absolute, entry);
    if (statSync(full).isDirectory()) return sourceFiles(path.join(dir, entry));
    return /\.(ts|mts|js|mjs)$/.test(entry) && !entry.endsWith('.d.ts') ? [path.join(dir, entry)] : [];
  });
}
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const allSource = () => sourceFiles('src').map(read).join('\n');

interface KeyDesign {
  tableNames(prefix: string): Record<string, string>;
  tableDefinitions(names: never): {
    create: {
      TableName?: string;
      BillingMode?: string;
      AttributeDefinitions?: { AttributeName?: string; AttributeType?: string }[];
      KeySchema?: { AttributeName?: string; KeyType?: string }[];
      GlobalSecondaryIndexes?: { IndexName?: string; KeySchema?: { AttributeName?: string; KeyType?: string }[]; Projection?: { ProjectionType?: string } }[];
    };
    ttlAttribute?: string;
  }[];
  USERNAME_INDEX: string;
}

/**
 * The IAM actions each SDK command needs, as the service authorises them. A presigned URL
 * acts with the signer's permissions, so a presigned command needs what the command needs.
 */
const COMMAND_ACTIONS: Record<string, string[]> = {
  GetCommand: ['dynamodb:GetItem'],
  GetItemCommand: ['dynamodb:GetItem'],
  PutCommand: ['dynamodb:PutItem'],
  PutItemCommand: ['dynamodb:PutItem'],
  UpdateCommand: ['dynamodb:UpdateItem'],
  UpdateItemCommand: ['dynamodb:UpdateItem'],
  DeleteCommand: ['dynamodb:DeleteItem'],
  DeleteItemCommand: ['dynamodb:DeleteItem'],
  QueryCommand: ['dynamodb:Query'],
  ScanCommand: ['dynamodb:Scan'],
  BatchGetCommand: ['dynamodb:BatchGetItem'],
  BatchGetItemCommand: ['dynamodb:BatchGetItem'],
  BatchWriteCommand: ['dynamodb:BatchWriteItem'],
  BatchWriteItemCommand: ['dynamodb:BatchWriteItem'],
  TransactGetCommand: ['dynamodb:GetItem'],
  TransactGetItemsCommand: ['dynamodb:GetItem'],
  DescribeTableCommand: ['dynamodb:DescribeTable'],
  PutObjectCommand: ['s3:PutObject'],
  GetObjectCommand: ['s3:GetObject'],
  HeadObjectCommand: ['s3:GetObject'],
  CopyObjectCommand: ['s3:GetObject', 's3:PutObject'],
  DeleteObjectCommand: ['s3:DeleteObject'],
  DeleteObjectsCommand: ['s3:DeleteObject'],
  ListObjectsV2Command: ['s3:ListBucket'],
  ListObjectsCommand: ['s3:ListBucket'],
  HeadBucketCommand: ['s3:ListBucket'],
};

/** A transaction is authorised item by item, by the action of each item's kind. */
const TRANSACT_WRITE = new Set(['TransactWriteCommand', 'TransactWriteItemsCommand']);
const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

/**
 * Sent only by operators' tools (`npm run tables:create`) and the local stack, with their
 * own credentials: the service must not hold these.
 */
const OPERATOR_ONLY = new Set(['CreateTableCommand', 'UpdateTimeToLiveCommand', 'DescribeTimeToLiveCommand']);

interface CodeActions {
  actions: Set<string>;
  commands: Set<string>;
  unknown: string[];
}

function actionsCalledIn(dir: string): CodeActions {
  const result: CodeActions = { actions: new Set(), commands: new Set(), unknown: [] };
  for (const file of sourceFiles(dir)) {
    const text = read(file);
    for (const [, command] of text.matchAll(/\bnew\s+(\w+Command)\s*\(/g)) {
      result.commands.add(command!);
      if (OPERATOR_ONLY.has(command!)) continue;
      if (TRANSACT_WRITE.has(command!)) {
        const kinds = [...text.matchAll(/\b(Put|Update|Delete|ConditionCheck)\s*:\s*\{/g)].map((m) => m[1]!);
        if (kinds.length === 0) result.unknown.push(`${command} in ${file} (no item kinds found)`);
        for (const kind of kinds) result.actions.add(TRANSACT_ITEM_ACTIONS[kind]!);
      } else if (command! in COMMAND_ACTIONS) {
        for (const action of COMMAND_ACTIONS[command!]!) result.actions.add(action);
      } else {
        result.unknown.push(`${command} in ${file}`);
      }
    }
    // A presigned URL is only as allowed as the command it signs; that command is counted above.
    if (/\bgetSignedUrl\s*\(/.test(text) && !/\bnew\s+(Get|Put)ObjectCommand\s*\(/.test(text)) {
      result.unknown.push(`getSignedUrl in ${file} signs a command this scan does not see`);
    }
    if (/\bcreatePresignedPost\s*\(/.test(text)) result.actions.add('s3:PutObject');
  }
  return result;
}

// ------------------------------------------------------------------ the deployment under test

const keyDesign = (await import(pathToFileURL(path.join(root, TABLE_MODULE)).href)) as KeyDesign;
const prefix = String(parameterValue('TablePrefix'));
const names = keyDesign.tableNames(prefix);
const definitions = keyDesign.tableDefinitions(names as never);
const tableArn = (name: string) => `arn:aws:dynamodb:eu-west-1:123456789012:table/${name}`;

const taskDefinition = propertiesOf(only('AWS::ECS::TaskDefinition'));
const container = dict(
  list(taskDefinition.ContainerDefinitions, 'ContainerDefinitions').find((c) => dict(c, 'a container').Name === CONTAINER),
  `container ${CONTAINER}`,
);
const environment = new Map(list(container.Environment, 'Environment').map((e) => [String(dict(e, 'env').Name), String(dict(e, 'env').Value)]));
const secrets = new Map(list(container.Secrets ?? [], 'Secrets').map((e) => [String(dict(e, 'secret').Name), String(dict(e, 'secret').ValueFrom)]));

/** The logical name behind a `!Ref X` or `!GetAtt X.Attr` in the unresolved template. */
function target(raw: unknown): string {
  const d = dict(raw, 'a reference');
  if ('Ref' in d) return String(d.Ref);
  return String(list(d['Fn::GetAtt'], 'Fn::GetAtt')[0]);
}
const rawProperties = (name: string) => dict(dict(resources[name], name).Properties, `${name} properties`);

const taskRole = target(rawProperties(only('AWS::ECS::TaskDefinition')).TaskRoleArn);
const allowed = list(propertiesOf(taskRole).Policies ?? [], 'Policies')
  .flatMap((policy) => asList(dict(dict(policy, 'policy').PolicyDocument, 'PolicyDocument').Statement).map((s) => dict(s, 'statement')))
  .filter((s) => s.Effect === 'Allow');
const filesBucket = resourceNames('AWS::S3::Bucket').find((name) => refOf(name) === environment.get('S3_BUCKET'));
const tableKey = target(dict(rawProperties(resourceNames('AWS::DynamoDB::Table')[0]!).SSESpecification, 'SSESpecification').KMSMasterKeyId);
const granted = (service: string) =>
  new Set(allowed.flatMap((s) => asList(s.Action).map(String)).filter((a) => a.startsWith(`${service}:`)));
const resourcesFor = (service: string) =>
  allowed.filter((s) => asList(s.Action).some((a) => String(a).startsWith(`${service}:`))).flatMap((s) => asList(s.Resource).map(String));

// ------------------------------------------------------------------ tables

t.test('every table of the key design exists with its keys, indexes, TTL, on-demand billing and protection', async (t) => {
  const tables = resourceNames('AWS::DynamoDB::Table');
  t.equal(tables.length, definitions.length, 'as many tables as the key design has');
  for (const def of definitions) {
    const name = def.create.TableName!;
    const match = tables.filter((table) => propertiesOf(table).TableName === name);
    t.equal(match.length, 1, `${name} is in the template`);
    if (match.length !== 1) continue;
    const p = propertiesOf(match[0]!);
    t.equal(p.BillingMode, 'PAY_PER_REQUEST', `${name} is on-demand`);
    t.same(p.KeySchema, def.create.KeySchema, `${name} has the key schema of the key design`);
    const attributes = (v: unknown) => asList(v).map((a) => `${String(dict(a, 'attr').AttributeName)}:${String(dict(a, 'attr').AttributeType)}`).sort();
    t.same(attributes(p.AttributeDefinitions), attributes(def.create.AttributeDefinitions), `${name} declares the same attributes and types`);
    const indexes = (v: unknown) =>
      asList(v)
        .map((i) => dict(i, 'index'))
        .map((i) => ({ IndexName: i.IndexName, KeySchema: i.KeySchema, ProjectionType: dict(i.Projection, 'Projection').ProjectionType }))
        .sort((a, b) => String(a.IndexName).localeCompare(String(b.IndexName)));
    t.same(indexes(p.GlobalSecondaryIndexes), indexes(def.create.GlobalSecondaryIndexes), `${name} has the global secondary indexes of the key design`);
    if (def.ttlAttribute) {
      t.same(p.TimeToLiveSpecification, { AttributeName: def.ttlAttribute, Enabled: true }, `${name} expires rows on ${def.ttlAttribute}`);
    } else {
      t.equal(p.TimeToLiveSpecification, undefined, `${name} has no TTL`);
    }
    t.same(p.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true }, `${name} has point-in-time recovery`);
    const sse = dict(p.SSESpecification, `${name} SSESpecification`);
    t.equal(sse.SSEType, 'KMS', `${name} is encrypted with KMS`);
    const keyRef = target(dict(rawProperties(match[0]!).SSESpecification, 'SSESpecification').KMSMasterKeyId);
    t.equal(dict(resources[keyRef], keyRef).Type, 'AWS::KMS::Key', `${name} uses the stack's customer-managed key`);
    t.equal(p.DeletionProtectionEnabled, true, `${name} has deletion protection (by default)`);
    t.equal(dict(resources[match[0]!], 'table').DeletionPolicy, 'Retain', `${name} survives the stack`);
  }
  t.ok(
    definitions.some((d) => d.create.GlobalSecondaryIndexes?.some((i) => i.IndexName === keyDesign.USERNAME_INDEX)),
    `the key design's ${keyDesign.USERNAME_INDEX} is one of the indexes checked`,
  );
});

// ------------------------------------------------------------------ configuration

function requiredInAwsMode(): string[] {
  try {
    parseConfig({ COGNITO_USER_POOL_ID: 'eu-west-1_Sample123' });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.filter((p) => /required/.test(p)).map((p) => p.slice(0, p.indexOf(':')));
  }
  throw new Error('AWS mode with nothing set was accepted');
}

t.test('the task definition sets every variable the service needs on AWS, secrets as secrets', async (t) => {
  const set = new Set([...environment.keys(), ...secrets.keys()]);
  const required = requiredInAwsMode();
  t.ok(required.length >= 4, `the configuration names what AWS mode requires (${required.join(', ')})`);
  for (const name of [...required, 'PUBLIC_URL', 'TRUST_PROXY', 'HOST', 'TABLE_PREFIX', 'S3_BUCKET', 'REDIS_URL', 'REDIS_KEY_PREFIX', 'REDIS_AUTH_TOKEN']) {
    t.ok(set.has(name), `${name} is set`);
  }
  for (const name of set) {
    t.ok(name in variables, `${name} is a variable the service reads`);
  }
  for (const name of ['SESSION_SECRET', 'REDIS_AUTH_TOKEN']) {
    t.ok(secrets.has(name) && !environment.has(name), `${name} comes from a secret, never a plain value`);
  }
  t.equal(environment.get('TRUST_PROXY'), 'true', 'behind the load balancer, X-Forwarded-* is trusted');
  t.equal(environment.get('HOST'), '0.0.0.0');
  t.equal(environment.get('PUBLIC_URL'), SAMPLE.PublicOrigin, 'PUBLIC_URL is the PublicOrigin parameter');
  t.equal(environment.get('TABLE_PREFIX'), prefix, 'the service looks for the tables under the prefix they were created with');
  t.ok(filesBucket, 'S3_BUCKET is a bucket of this stack');
  t.match(environment.get('REDIS_URL') ?? '', /^rediss:\/\/[^@]+$/, 'Redis over TLS, and no password in the URL');
  t.equal(environment.get('COGNITO_USER_POOL_ID'), refOf(only('AWS::Cognito::UserPool')));
  t.equal(environment.get('COGNITO_CLIENT_ID'), refOf(only('AWS::Cognito::UserPoolClient')));

  const env: Record<string, string> = Object.fromEntries(environment);
  for (const name of secrets.keys()) env[name] = 'x'.repeat(64);
  let config: ReturnType<typeof parseConfig> | undefined;
  t.doesNotThrow(() => (config = parseConfig(env)), 'the configuration accepts the task definition as it is');
  t.equal(config?.mode, 'aws');
  t.equal(config?.http.port, 3000);
});

t.test('the secrets the task reads are the ones the stack generates, and Redis checks the same token', async (t) => {
  for (const [name, valueFrom] of secrets) {
    if (name === 'SESSION_SECRET' || name === 'REDIS_AUTH_TOKEN') {
      const secret = logicalName(valueFrom);
      t.equal(dict(resources[secret], secret).Type, 'AWS::SecretsManager::Secret', `${name} is a secret of this stack`);
      t.ok(propertiesOf(secret).GenerateSecretString, `${name} is generated inside the stack`);
    }
  }
  const redis = propertiesOf(only('AWS::ElastiCache::ReplicationGroup'));
  t.equal(redis.TransitEncryptionEnabled, true, 'Redis speaks TLS');
  t.equal(redis.AtRestEncryptionEnabled, true);
  t.equal(redis.AuthToken, `{{resolve:secretsmanager:${secrets.get('REDIS_AUTH_TOKEN')}}}`, 'the AUTH token is the secret the tasks receive');
});

// ------------------------------------------------------------------ permissions

t.test('the task role grants exactly the DynamoDB and S3 actions the code calls', async (t) => {
  const dynamodb = actionsCalledIn(DYNAMODB_CODE);
  const s3 = actionsCalledIn(S3_CODE);
  t.same([...dynamodb.unknown, ...s3.unknown], [], 'every command found has a known IAM action (extend COMMAND_ACTIONS)');
  t.ok(dynamodb.commands.size > 0 && s3.commands.size > 0, 'the scans found commands (are the folders right?)');
  const calledDynamo = [...dynamodb.actions].filter((a) => a.startsWith('dynamodb:')).sort();
  const calledS3 = [...s3.actions].filter((a) => a.startsWith('s3:')).sort();
  t.same([...granted('dynamodb')].sort(), calledDynamo, 'DynamoDB: granted = called');
  t.same([...granted('s3')].sort(), calledS3, 'S3: granted = called');
});

t.test('the grants name exact tables, the key design index and the two key prefixes', async (t) => {
  const tables = new Set(Object.values(names).map(tableArn));
  const indexes = new Set(
    definitions.flatMap((d) => (d.create.GlobalSecondaryIndexes ?? []).map((i) => `${tableArn(d.create.TableName!)}/index/${i.IndexName}`)),
  );
  const dynamoResources = resourcesFor('dynamodb');
  t.same(new Set(dynamoResources.filter((r) => !r.includes('/index/'))), tables, 'DynamoDB grants cover the four tables and nothing else');
  t.same(new Set(dynamoResources.filter((r) => r.includes('/index/'))), indexes, 'index grants are exactly the key design indexes');
  t.ok([...indexes].some((r) => r.endsWith(`/index/${keyDesign.USERNAME_INDEX}`)));

  const source = allSource();
  const prefixes = ['PENDING_PREFIX', 'FILES_PREFIX'].map((constant) => {
    const match = source.match(new RegExp(`${constant}\\s*=\\s*'([^']+)'`));
    t.ok(match, `the code defines ${constant}`);
    return match?.[1] ?? '';
  });
  const bucketArn = getAtt(filesBucket!, 'Arn');
  const objectResources = allowed
    .filter((s) => asList(s.Action).some((a) => /^s3:\w+Object$/.test(String(a))))
    .flatMap((s) => asList(s.Resource).map(String));
  t.same(new Set(objectResources), new Set(prefixes.map((p) => `${bucketArn}/${p}*`)), 'object actions only under the code\'s two prefixes');
  const bucketResources = allowed
    .filter((s) => asList(s.Action).some((a) => String(a) === 's3:ListBucket'))
    .flatMap((s) => asList(s.Resource).map(String));
  t.same(bucketResources, [bucketArn], 'bucket-level actions on the bucket itself');
  t.notOk(
    allowed.some((s) => asList(s.Resource).some((r) => String(r) === '*') && asList(s.Action).some((a) => /^(dynamodb|s3|kms):/.test(String(a)))),
    'no data action on "*"',
  );

  const lifecycle = list(dict(propertiesOf(filesBucket!).LifecycleConfiguration, 'lifecycle').Rules, 'Rules').map((r) => dict(r, 'rule'));
  t.ok(lifecycle.some((r) => r.Prefix === prefixes[0] && r.ExpirationInDays === 1), `unsent uploads under ${prefixes[0]} expire`);
});

t.test('the table key may only be used through DynamoDB', async (t) => {
  const kms = allowed.filter((s) => asList(s.Action).some((a) => String(a).startsWith('kms:')));
  t.ok(kms.length > 0, 'the service may use the table key');
  for (const s of kms) {
    t.same(asList(s.Resource), [getAtt(tableKey, 'Arn')], 'only the key of the tables');
    t.same(dict(dict(s.Condition, 'Condition').StringEquals, 'StringEquals')['kms:ViaService'], 'dynamodb.eu-west-1.amazonaws.com');
  }
});

// ------------------------------------------------------------------ load balancer, health and drain

t.test('the load balancer asks only "can this instance serve", never dependency readiness', async (t) => {
  const targetGroup = propertiesOf(only('AWS::ElasticLoadBalancingV2::TargetGroup'));
  t.not(targetGroup.HealthCheckPath, '/readyz', 'the target group does not check /readyz');
  t.equal(targetGroup.HealthCheckPath, '/healthz');
  t.match(allSource(), /get\(\s*'\/healthz'/, 'the service serves GET /healthz');
  const healthCheck = dict(container.HealthCheck, 'HealthCheck');
  const command = list(healthCheck.Command, 'HealthCheck.Command').join(' ');
  t.match(command, /\/healthz/, 'the container health check asks /healthz');
  t.notMatch(command, /\/readyz/);
  t.equal(targetGroup.Port, Number(environment.get('PORT')), 'the target group sends to the port the service listens on');
  const mapped = list(container.PortMappings, 'PortMappings').map((m) => dict(m, 'mapping').ContainerPort);
  t.same(mapped, [Number(environment.get('PORT'))], 'only the app port is mapped (metrics stay on loopback)');
  t.equal(environment.get('METRICS_HOST'), '127.0.0.1', 'the metrics listener is loopback only');
});

t.test('a drain that starts with SIGTERM ends before SIGKILL', async (t) => {
  const WRITE_BOUND_S = 10; // the SDK request timeout that bounds a write in flight
  const SERVER_GRACE_AFTER_SPREAD_S = 25; // src/server.ts gives up (exit 1) this long after the spread
  const MARGIN_S = 5;
  const attributes = list(propertiesOf(only('AWS::ElasticLoadBalancingV2::TargetGroup')).TargetGroupAttributes, 'attributes').map((a) => dict(a, 'attribute'));
  const delay = Number(attributes.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value);
  const spread = Number(environment.get('DRAIN_SPREAD_MS')) / 1000;
  const stopTimeout = Number(container.StopTimeout);
  t.ok(spread > 0, 'DRAIN_SPREAD_MS is set explicitly');
  t.ok(delay > 0 && delay <= 60, `the deregistration delay (${delay} s) is set and does not hold deployments for minutes`);
  t.ok(stopTimeout >= spread + WRITE_BOUND_S + MARGIN_S, `stopTimeout ${stopTimeout} s covers a drain that starts with SIGTERM`);
  t.ok(stopTimeout > spread + SERVER_GRACE_AFTER_SPREAD_S, 'the server gives up before ECS sends SIGKILL');
  t.ok(stopTimeout <= 120, 'Fargate allows at most 120 s');

  const lbAttributes = list(propertiesOf(only('AWS::ElasticLoadBalancingV2::LoadBalancer')).LoadBalancerAttributes, 'attributes').map((a) => dict(a, 'attribute'));
  const idle = Number(lbAttributes.find((a) => a.Key === 'idle_timeout.timeout_seconds')?.Value);
  const ping = Number((variables.WS_PING_INTERVAL_MS.schema as { default?: number }).default) / 1000;
  t.ok(idle >= 2 * ping, `the idle timeout (${idle} s) leaves room for a missed ping every ${ping} s`);
});

t.test('HTTPS with the given certificate, and HTTP only redirects', async (t) => {
  const listeners = resourceNames('AWS::ElasticLoadBalancingV2::Listener').map(propertiesOf);
  const https = listeners.find((l) => l.Protocol === 'HTTPS');
  const http = listeners.find((l) => l.Protocol === 'HTTP');
  t.same(dict(https, 'HTTPS listener').Certificates, [{ CertificateArn: SAMPLE.CertificateArn }]);
  const redirect = dict(list(dict(http, 'HTTP listener').DefaultActions, 'actions')[0], 'action');
  t.equal(redirect.Type, 'redirect');
  t.match(redirect.RedirectConfig, { Protocol: 'HTTPS', Port: '443' });
});

// ------------------------------------------------------------------ sign-in, images, alarms

t.test('the app client signs in with the code flow and returns to the public origin', async (t) => {
  const client = propertiesOf(only('AWS::Cognito::UserPoolClient'));
  t.same(client.AllowedOAuthFlows, ['code']);
  t.same(client.CallbackURLs, [`${environment.get('PUBLIC_URL')}/authorize`]);
  t.same(client.LogoutURLs, [`${environment.get('PUBLIC_URL')}/`]);
  t.match(allSource(), /get\(\s*'\/authorize'/, 'the service serves the callback');
  t.equal(client.GenerateSecret, false, 'a public client, so no COGNITO_CLIENT_SECRET to hold');
  const group = propertiesOf(only('AWS::Cognito::UserPoolGroup'));
  t.equal(environment.get('PREMIUM_GROUP'), group.GroupName, 'PREMIUM_GROUP names the stack\'s group');
  t.equal(group.GroupName, (variables.PREMIUM_GROUP.schema as { default?: string }).default);
  t.match(environment.get('COGNITO_DOMAIN'), /^https:\/\/.+\.auth\.eu-west-1\.amazoncognito\.com$/);
});

t.test('images are scanned and their tags never reused', async (t) => {
  const repository = propertiesOf(only('AWS::ECR::Repository'));
  t.equal(repository.ImageTagMutability, 'IMMUTABLE');
  t.same(repository.ImageScanningConfiguration, { ScanOnPush: true });
  t.match(String(container.Image), /:0123456789ab$/, 'the task runs the ImageTag parameter');
  t.match(String(dict(parameters.ImageTag, 'ImageTag').AllowedPattern), /0-9a-f/, 'ImageTag only takes commit ids');
});

t.test('log-based alarms watch log lines the service still writes', async (t) => {
  const source = allSource();
  const filters = resourceNames('AWS::Logs::MetricFilter').map(propertiesOf);
  t.ok(filters.length > 0);
  for (const filter of filters) {
    const messages = [...String(filter.FilterPattern).matchAll(/\$\.msg\s*=\s*"([^"]+)"/g)].map((m) => m[1]!);
    t.ok(messages.length > 0, 'the filter matches on messages');
    for (const message of messages) t.ok(source.includes(`'${message}'`), `src/ still logs "${message}"`);
  }
  const alarms = resourceNames('AWS::CloudWatch::Alarm').map(propertiesOf);
  const watched = alarms.map((a) => `${textOf(a.MetricName ?? '')} ${JSON.stringify(a.Metrics ?? '')}`).join('\n');
  for (const metric of ['HTTPCode_Target_5XX_Count', 'UnHealthyHostCount', 'RedisConnectionErrors', 'SystemErrors']) {
    t.match(watched, metric, `an alarm watches ${metric}`);
  }
  for (const table of Object.values(names)) t.match(watched, table, `DynamoDB errors on ${table} raise an alarm`);
});

t.test('the build checks on the image\'s Node before building, and tags with the commit only', async (t) => {
  const dockerfile = read('Dockerfile');
  const checkStage = dockerfile.slice(dockerfile.indexOf(' AS check'), dockerfile.indexOf(' AS build'));
  for (const step of ['npm run typecheck', 'npm run lint', 'test/unit/', 'test/deploy/']) {
    t.match(checkStage, step, `the check stage runs ${step}`);
  }
  t.match(dockerfile, /FROM \$\{NODE_IMAGE\} AS deps[\s\S]*FROM deps AS check[\s\S]*FROM \$\{NODE_IMAGE\} AS runtime/, 'checks and runtime share one base image');
  const buildspec = read('buildspec.yml');
  const commands = JSON.stringify(dict(parse(buildspec), 'buildspec').phases);
  t.ok(commands.indexOf('--target check') >= 0 && commands.indexOf('--target check') < commands.indexOf('docker push'), 'the check stage is built before anything is pushed');
  t.notMatch(buildspec, /:latest\b|-t\s+\S*latest/, 'no reusable tag');
  t.ok(buildspec.includes(`IMAGE_TAG=$(printf '%s' "$COMMIT" | cut -c 1-12)`), 'the tag is the commit');
  t.same([...buildspec.matchAll(/-t\s+(\S+)/g)].map((m) => m[1]), ['"$IMAGE_URI:$IMAGE_TAG"'], 'the image gets that one tag');
  t.match(commands, /imagedefinitions\.json/);
});
