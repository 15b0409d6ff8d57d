#!/usr/bin/env node
// The Cadence CDK app: one stack, `cadence`, checked with cdk-nag's AwsSolutions pack.
//
// cdk-nag 3 runs as a CDK policy-validation plugin: an unacknowledged finding makes `cdk synth` print the
// validation report and exit non-zero, so CI fails on new findings. Acknowledgements (each with a reason)
// live next to the construct they concern, in lib/cadence-stack.ts.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CadenceStack } from '../lib/cadence-stack';

const app = new App();

// `cdk synth -c cadence:skipBundling=true` synthesizes without building the Rust binaries (template and
// cdk-nag checks only; the function code then points at an unbuilt asset, so never deploy such a synth).
// The CLI owns CDK_CONTEXT_JSON and always sets aws:cdk:bundling-stacks to ["**"] for synth/deploy, so
// the flag is translated here, before the stack (and its assets) exist.
const skipBundling = app.node.tryGetContext('cadence:skipBundling');
if (skipBundling === true || skipBundling === 'true') {
  app.node.setContext('aws:cdk:bundling-stacks', []);
}

new CadenceStack(app, 'cadence', {
  stackName: 'cadence',
  description:
    'Cadence: a self-hosted, DM-first sales cadence engine (CDK twin of infra/template.yaml).',
  // Environment-agnostic on purpose: the template uses pseudo parameters like the SAM one, and
  // `cdk deploy` takes the account and region from the caller's credentials.
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
