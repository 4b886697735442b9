using Courier.Tests.Containers.Infrastructure;
using Xunit.Abstractions;

namespace Courier.Tests.Containers;

/// <summary>The compose file's broker profile on real containers: a broker, three workers and the broker's client.</summary>
[Collection(ContainerTestsDefinition.Name)]
public sealed class BrokerProfileTests(ComposeFixture stack, ITestOutputHelper output)
{
    [SkippableFact]
    public async Task The_broker_profile_serves_with_no_error_and_loses_nothing_when_a_worker_container_is_killed_under_load()
    {
        var bench = (await stack.StoryAsync(output)).Broker;

        Assert.True(bench.Result.Requests > 0, bench.ToString());
        Assert.True(bench.Result.Errors == 0, bench.ToString());
        Assert.Equal(137, Assert.Single(bench.Victims).ExitCode);
        Assert.True(bench.InsideLoad, "the worker was killed too late in the load: " + bench);
    }
}
