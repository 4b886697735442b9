namespace Courier.Tests.Containers.Infrastructure;

/// <summary>
/// The compose commands README.md's "Run with Docker" shows (after <c>docker-compose -f deploy/docker-compose.yml</c>),
/// which the tests run; <see cref="ReadmeTests"/> keeps the two the same.
/// </summary>
public static class Commands
{
    public static readonly string[] Build = ["build"];

    public static readonly string[] UpServers = ["up", "-d", "server", "nginx"];

    public static readonly string[] Whoami = ["run", "--rm", "client", "request", "--connect", "tcp://nginx:5555", "--service", "whoami"];

    public static readonly string[] Bench =
        ["run", "--rm", "client", "bench", "--connect", "tcp://nginx:5555", "--clients", "4", "--inflight", "50", "--duration", "10s", "--json"];

    public static readonly string[] UpBroker = ["--profile", "broker", "up", "-d", "broker", "worker"];

    public static readonly string[] BrokerBench =
        ["--profile", "broker", "run", "--rm", "broker-client", "bench", "--connect", "tcp://broker:5555", "--clients", "4", "--inflight", "100", "--duration", "20s", "--json"];

    public static readonly string[] UpTwoBrokers = ["--profile", "broker", "up", "-d", "broker", "broker-b", "ha-worker"];

    public static readonly string[] TwoBrokerBench =
        ["--profile", "broker", "run", "--rm", "ha-client", "bench", "--connect", "tcp://broker:5555", "--connect", "tcp://broker-b:5555", "--clients", "4", "--inflight", "100", "--duration", "20s", "--json"];

    public static readonly string[] Down = ["--profile", "broker", "down", "--volumes"];

    /// <summary>A <c>run</c> command without a terminal (<c>-T</c>), as a test has none.</summary>
    public static string[] NoTerminal(string[] command)
    {
        var rm = Array.IndexOf(command, "--rm");
        return [.. command[..(rm + 1)], "-T", .. command[(rm + 1)..]];
    }

    /// <summary>A command with its <c>--duration</c> changed.</summary>
    public static string[] WithDuration(string[] command, string duration)
    {
        var copy = (string[])command.Clone();
        copy[Array.IndexOf(copy, "--duration") + 1] = duration;
        return copy;
    }
}
