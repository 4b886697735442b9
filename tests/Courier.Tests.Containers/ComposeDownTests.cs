using Courier.Tests.Containers.Infrastructure;

namespace Courier.Tests.Containers;

[Collection(ContainerTestsDefinition.Name)]
public sealed class ComposeDownTests(ComposeFixture stack)
{
    private static readonly TimeSpan Minutes = TimeSpan.FromMinutes(3);

    [SkippableFact]
    public async Task Down_leaves_no_container_network_or_volume_behind()
    {
        stack.RequireEngine();
        await stack.ComposeOkAsync(Minutes, "--profile", "broker", "up", "-d", "server", "nginx", "broker", "worker");
        Assert.NotEmpty(await LeftAsync("ps", "-a"));
        Assert.NotEmpty(await LeftAsync("network", "ls"));

        await stack.ComposeOkAsync(Minutes, Commands.Down);

        Assert.Empty(await LeftAsync("ps", "-a"));
        Assert.Empty(await LeftAsync("network", "ls"));
        Assert.Empty(await LeftAsync("volume", "ls"));
    }

    /// <summary>What the engine still has of the compose project (docker-compose labels everything it makes).</summary>
    private async Task<string[]> LeftAsync(params string[] list)
        => (await stack.EngineOkAsync(Minutes, [.. list, "-q", "--filter", "label=com.docker.compose.project=courier-test"]))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
