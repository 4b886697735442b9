using Courier.Tests.Containers.Infrastructure;
using Xunit.Abstractions;

namespace Courier.Tests.Containers;

/// <summary>
/// The compose file's two-broker topology on real containers: two brokers, two workers registered with both, and a
/// client spread over both. Losing a broker container to SIGKILL under load costs the (idempotent) bench nothing.
/// </summary>
[Collection(ContainerTestsDefinition.Name)]
public sealed class TwoBrokerTests(ComposeFixture stack, ITestOutputHelper output)
{
    private static readonly TimeSpan Minutes = TimeSpan.FromMinutes(3);

    [SkippableFact]
    public async Task Killing_one_of_two_broker_containers_under_load_costs_the_client_no_error()
    {
        stack.RequireEngine();
        await stack.ComposeOkAsync(Minutes, Commands.UpTwoBrokers);
        await stack.WaitHealthyAsync("broker", 1);
        await stack.WaitHealthyAsync("broker-b", 1);
        await stack.WaitHealthyAsync("ha-worker", 2);

        var bench = stack.ComposeAsync(Minutes, Commands.NoTerminal(Commands.TwoBrokerBench));
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while ((await stack.ContainersAsync("ha-client")).Length == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the bench's container did not start");
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }

        // Not a wait for a condition: it places the fault inside the load rather than at its very start.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var victim = (await stack.ContainersAsync("broker-b"))[0];
        await stack.EngineOkAsync(Minutes, "kill", "--signal", "KILL", victim);
        var run = await bench;
        Assert.True(run.ExitCode == 0, $"the bench exited {run.ExitCode}:\n{run.Output}");
        var result = BenchResult.Parse(run.Stdout);

        output.WriteLine($"bench over two brokers with broker-b {victim[..12]} killed: {result}");
        Assert.True(result.Requests > 0, result.ToString());
        Assert.Equal(0, result.Errors);
    }
}
