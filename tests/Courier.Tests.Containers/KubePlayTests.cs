using Courier.Tests.Containers.Infrastructure;
using Xunit.Abstractions;

namespace Courier.Tests.Containers;

/// <summary>deploy/k8s's single-node overlay played by podman (<see cref="KubeStory"/>, run once for both tests).</summary>
[Collection(ContainerTestsDefinition.Name)]
public sealed class KubePlayTests(ComposeFixture stack, ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Server_and_nginx_deployments_played_by_podman_run_non_root_and_limited_turn_healthy_answer_through_nginx_and_go_down_without_a_trace()
    {
        var story = await PlayedAsync();
        story.Servers?.Throw();

        // The emptyDir volumes went with their pods; `kube down` keeps the volume it made for the ConfigMap (podman
        // 4.4 and later remove it with --force, which 4.3 does not have); the clean-up removes it and the network.
        Assert.Equal(KubePlay.ConfigMapVolumes, story.VolumesAfterKubeDown);
        Assert.Empty(story.LeftAfterCleanUp.Volumes);
        Assert.False(story.LeftAfterCleanUp.Network, "the test network was left behind");
    }

    [SkippableFact]
    public async Task Broker_and_worker_deployments_played_by_podman_run_non_root_and_serve_echo_through_the_broker()
    {
        var story = await PlayedAsync();
        story.Brokers?.Throw();
    }

    private async Task<KubeStory> PlayedAsync()
    {
        stack.RequireEngine();
        var story = await stack.Kube;
        output.WriteLine(stack.Log.ToString());
        Skip.If(story.Skipped is not null, story.Skipped);
        return story;
    }
}
