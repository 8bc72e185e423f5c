#!/usr/bin/env bash
# Rolls the service to one image, through the stack, and checks the result.
#
#   deploy/deploy-image.sh <stack> <tag>      tag = the commit's first 12 hex digits
#
# The pipeline's deploy stage runs it for every build; operators run it to roll back to an
# earlier tag. It changes the stack's ImageTag parameter and nothing else: the template
# already deployed is reused and every other parameter keeps its value, so it can neither
# undo nor smuggle in an infrastructure change (those go through `aws cloudformation
# deploy`, which in turn keeps ImageTag unless it is given).
#
# CloudFormation registers a task definition for the tag and updates the service; ECS
# replaces the tasks (new ones healthy on /healthz before old ones drain) and rolls back
# by itself if they never get healthy or the 5xx alarm fires, in which case the stack
# update fails and rolls back too. This script then checks that the service runs the tag
# and that /readyz answers through the load balancer.
set -euo pipefail

stack=${1:?usage: deploy-image.sh <stack> <image tag>}
tag=${2:?usage: deploy-image.sh <stack> <image tag>}
[[ "$tag" =~ ^[0-9a-f]{7,40}$ ]] || { echo "not a commit tag: '$tag'" >&2; exit 2; }

output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]" --output text
}

status=$(aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].StackStatus' --output text)
case "$status" in
  CREATE_COMPLETE | UPDATE_COMPLETE | UPDATE_ROLLBACK_COMPLETE) ;;
  *) echo "stack $stack is $status; wait for it to settle (or fix it) first" >&2; exit 1 ;;
esac

current=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Parameters[?ParameterKey=='ImageTag'].ParameterValue | [0]" --output text)
if [ -z "$current" ] || [ "$current" = "None" ]; then
  cat >&2 <<EOF
stack $stack has no ImageTag yet, so no service: the first deploy is done by hand
(docs/deploy.md, "First deploy"), with an operator's credentials:
  aws cloudformation deploy --stack-name $stack --template-file deploy/cloudformation.yml \\
    --capabilities CAPABILITY_NAMED_IAM --parameter-overrides ImageTag=$tag
EOF
  exit 1
fi

repository=$(output RepositoryName)
aws ecr describe-images --repository-name "$repository" --image-ids imageTag="$tag" >/dev/null \
  || { echo "no image $repository:$tag" >&2; exit 1; }

if [ "$current" = "$tag" ]; then
  echo "stack $stack already runs $tag"
else
  echo "rolling $stack from $current to $tag"
  params=()
  for key in $(aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].Parameters[].ParameterKey' --output text); do
    if [ "$key" = ImageTag ]; then
      params+=("ParameterKey=ImageTag,ParameterValue=$tag")
    else
      params+=("ParameterKey=$key,UsePreviousValue=true")
    fi
  done
  aws cloudformation update-stack --stack-name "$stack" --use-previous-template \
    --capabilities CAPABILITY_NAMED_IAM --parameters "${params[@]}" >/dev/null
  if ! aws cloudformation wait stack-update-complete --stack-name "$stack"; then
    echo "the update did not complete; what failed:" >&2
    aws cloudformation describe-stack-events --stack-name "$stack" --max-items 40 \
      --query "StackEvents[?contains(ResourceStatus, 'FAILED')].[Timestamp, LogicalResourceId, ResourceStatusReason]" \
      --output text >&2
    exit 1
  fi
fi

# The service settled on exactly this image.
cluster=$(output ClusterName)
service=$(output ServiceName)
read -r deployments rollout taskdef < <(aws ecs describe-services --cluster "$cluster" --services "$service" \
  --query 'services[0].[length(deployments), deployments[0].rolloutState, taskDefinition]' --output text)
image=$(aws ecs describe-task-definition --task-definition "$taskdef" \
  --query "taskDefinition.containerDefinitions[?name=='huddle'].image | [0]" --output text)
echo "service $service: $deployments deployment(s), rollout $rollout, image $image"
[ "$deployments" = 1 ] && [ "$rollout" = COMPLETED ] && [ "${image##*:}" = "$tag" ] \
  || { echo "the service is not settled on $tag" >&2; exit 1; }

# Dependencies answer through the load balancer (each request may reach another task).
origin=$(output PublicOrigin)
for attempt in 1 2 3 4 5; do
  if body=$(curl -fsS --max-time 10 "$origin/readyz"); then
    echo "readyz ($attempt): $body"
  else
    echo "readyz failed on attempt $attempt: ${body:-no answer}" >&2
    exit 1
  fi
done
echo "deployed $tag"
