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
    [SkippableFact]
    public async Task Killing_one_of_two_broker_containers_under_load_costs_the_client_no_error()
    {
        var bench = (await stack.StoryAsync(output)).TwoBrokers;

        Assert.True(bench.Result.Requests > 0, bench.ToString());
        Assert.True(bench.Result.Errors == 0, bench.ToString());
        Assert.Equal(137, Assert.Single(bench.Victims).ExitCode);
        Assert.True(bench.InsideLoad, "the broker was killed too late in the load: " + bench);
    }
}
