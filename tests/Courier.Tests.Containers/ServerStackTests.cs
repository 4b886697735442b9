using System.Text.RegularExpressions;
using Courier.Tests.Containers.Infrastructure;
using Xunit.Abstractions;

namespace Courier.Tests.Containers;

/// <summary>
/// The compose file's default stack on real containers: three `courier server`s behind the nginx container, and the
/// client container (<see cref="ComposeStory"/>, run once for the collection).
/// </summary>
[Collection(ContainerTestsDefinition.Name)]
public sealed class ServerStackTests(ComposeFixture stack, ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Three_server_replicas_answer_through_the_nginx_container_on_the_native_transport()
    {
        var story = await stack.StoryAsync(output);

        output.WriteLine($"image courier:latest: {stack.ImageBytes / 1e6:F1} MB");
        Assert.Equal(3, story.ReplicasSeen.Count);
        // The managed transport (NetMQ) in the same image: its dependencies are published as IL, not precompiled.
        Assert.Contains(story.ManagedAnswer, story.ReplicasSeen);
    }

    [SkippableFact]
    public async Task The_client_container_bench_through_nginx_exits_0_with_no_error_while_one_server_is_killed_and_another_stopped_gracefully()
    {
        var bench = (await stack.StoryAsync(output)).Nginx;

        Assert.True(bench.Result.Requests > 0, bench.ToString());
        Assert.True(bench.Result.Errors == 0, bench.ToString());
        // The faults happened: the killed server died of SIGKILL, the stopped one drained and exited 0 within its grace.
        Assert.Equal([137, 0], bench.Victims.Select(v => v.ExitCode));
        Assert.True(bench.InsideLoad, "a fault came too late in the load: " + bench);
    }

    [SkippableFact]
    public async Task Every_container_runs_as_a_non_root_user_and_turns_healthy()
    {
        var story = await stack.StoryAsync(output);

        // The story waited for every service's health checks before it went on.
        Assert.Equal(
            ["broker", "broker-b", "client", "ha-worker", "nginx", "server", "worker"],
            story.Uids.Select(u => u.Service).Distinct().Order());
        Assert.All(story.Uids, u => Assert.True(u.Uid != 0, $"{u.Service} {u.Id} runs as root"));
        Assert.All(story.Uids.Where(u => u.Service == "nginx"), u => Assert.Equal(101, u.Uid));
    }

    [SkippableFact]
    public async Task Every_container_has_the_memory_limit_its_kubernetes_manifest_gives()
    {
        var story = await stack.StoryAsync(output);

        // deploy/k8s/base: 256 Mi for a server or worker, 512 Mi for a broker, 128 Mi for nginx. Without a limit a peer
        // that finds a way to make one hold memory takes the host's, and Courier sizes its native-memory budget from it.
        var expected = new Dictionary<string, long>
        {
            ["server"] = 256L << 20,
            ["worker"] = 256L << 20,
            ["ha-worker"] = 256L << 20,
            ["broker"] = 512L << 20,
            ["broker-b"] = 512L << 20,
            ["nginx"] = 128L << 20,
        };
        Assert.Equal(expected.Keys.Order(), story.MemoryLimits.Select(m => m.Service).Distinct().Order());
        Assert.All(story.MemoryLimits, m => Assert.True(expected[m.Service] == m.Bytes, $"{m.Service} {m.Id}: {m.Bytes} bytes"));
    }
}
