using Courier.Tests.Containers.Infrastructure;
using Xunit.Abstractions;

namespace Courier.Tests.Containers;

/// <summary>The compose file's broker profile on real containers: a broker, three workers and the broker's client.</summary>
[Collection(ContainerTestsDefinition.Name)]
public sealed class BrokerProfileTests(ComposeFixture stack, ITestOutputHelper output)
{
    private static readonly TimeSpan Minutes = TimeSpan.FromMinutes(3);

    [SkippableFact]
    public async Task The_broker_profile_serves_with_no_error_and_loses_nothing_when_a_worker_container_is_killed_under_load()
    {
        stack.RequireEngine();
        await stack.ComposeOkAsync(Minutes, Commands.UpBroker);
        await stack.WaitHealthyAsync("broker", 1);
        await stack.WaitHealthyAsync("worker", 3);
        foreach (var id in (await stack.ContainersAsync("broker")).Concat(await stack.ContainersAsync("worker")))
        {
            Assert.NotEqual(0, await ServerStackTests.ProcessUidAsync(stack, id));
        }

        var bench = stack.ComposeAsync(Minutes, Commands.NoTerminal(Commands.BrokerBench));
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while ((await stack.ContainersAsync("broker-client")).Length == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the bench's container did not start");
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }

        // Not a wait for a condition: it places the fault inside the load rather than at its very start.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var victim = (await stack.ContainersAsync("worker"))[0];
        await stack.EngineOkAsync(Minutes, "kill", "--signal", "KILL", victim);
        var run = await bench;
        Assert.True(run.ExitCode == 0, $"the bench exited {run.ExitCode}:\n{run.Output}");
        var result = BenchResult.Parse(run.Stdout);

        output.WriteLine($"bench through the broker with worker {victim[..12]} killed: {result}");
        Assert.True(result.Requests > 0, result.ToString());
        Assert.Equal(0, result.Errors);
        await stack.WaitHealthyAsync("worker", 3);
    }
}
