using System.CommandLine;
using Courier.Client;

namespace Courier.Cli.Commands;

/// <summary>`courier health`: for container health checks, where runtime images have no curl.</summary>
internal static class HealthCommand
{
    public static Command Create()
    {
        var connect = CliOption.Endpoint("--connect", bind: false, "The server or broker to ask.", defaultValue: "tcp://127.0.0.1:5555");
        var service = CliOption.Service("--service", null, allowMmi: true, "Also require this service to be served (8/MMI mmi.service answers 200).");
        var timeout = CliOption.Duration("--timeout", TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1), "Time to wait for the answer.");
        var command = new Command("health", "Exit 0 when a Courier server or broker answers (and serves --service, if given); 1 otherwise.")
        {
            connect, service, timeout,
        };
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            await using var client = new CourierClient(CourierClientOptions.Default with
            {
                Endpoints = [parse.GetValue(connect)!],
                Timeout = parse.GetValue(timeout),
                Retries = 0,
                Protocol = ClientProtocol.Mdp, // one plain 7/MDP query, which any Courier peer answers
                Transport = Cli.Transport,
                Security = Cli.Security,
            });
            try
            {
                var probe = await client.RequestAsync("mmi.courier", "", Cli.Shutdown);
                if (probe.BodyText != "200")
                {
                    return Cli.Fail(1, $"unhealthy: {parse.GetValue(connect)} is not a Courier server or broker (mmi.courier answered {probe})");
                }

                if (parse.GetValue(service) is { } name)
                {
                    var served = await client.RequestAsync("mmi.service", name, Cli.Shutdown);
                    if (served.BodyText != "200")
                    {
                        return Cli.Fail(1, $"unhealthy: service '{name}' is not served at {parse.GetValue(connect)} (mmi.service answered {served.BodyText})");
                    }
                }
            }
            catch (CourierTimeoutException)
            {
                return Cli.Fail(1, $"unhealthy: no answer from {parse.GetValue(connect)} within {Duration.Format(parse.GetValue(timeout))}");
            }

            Console.WriteLine("healthy");
            return 0;
        }));
        return command;
    }
}
