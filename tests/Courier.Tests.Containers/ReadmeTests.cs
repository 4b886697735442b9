using Courier.Tests.Containers.Infrastructure;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Containers;

public sealed class ReadmeTests
{
    [Fact]
    public void Run_with_docker_shows_the_compose_commands_the_container_tests_run()
    {
        var readme = File.ReadAllText(Path.Combine(Repo.Root, "README.md"));
        var section = readme[readme.IndexOf("## Run with Docker", StringComparison.Ordinal)..];
        var block = section[(section.IndexOf("```sh\n", StringComparison.Ordinal) + 6)..];
        var lines = block[..block.IndexOf("```", StringComparison.Ordinal)].Split('\n')
            .Select(line => line.Split('#')[0].Trim())
            .Where(line => line.Length > 0);

        string[][] commands = [Commands.Build, Commands.UpServers, Commands.Whoami, Commands.Bench, Commands.UpBroker, Commands.BrokerBench, Commands.UpTwoBrokers, Commands.TwoBrokerBench, Commands.Down];
        Assert.Equal(commands.Select(c => "docker-compose -f deploy/docker-compose.yml " + string.Join(' ', c)), lines);
    }
}
