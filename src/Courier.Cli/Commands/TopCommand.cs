using System.CommandLine;
using Courier.Cli.Top;
using Courier.Client;

namespace Courier.Cli.Commands;

/// <summary>`courier top`: a live view of a broker, redrawn in place, from its 8/MMI <c>mmi.stats</c> and <c>mmi.workers</c>.</summary>
internal static class TopCommand
{
    public static Command Create()
    {
        var connect = CliOption.Endpoint("--connect", bind: false, "The broker to watch.", defaultValue: "tcp://127.0.0.1:5555");
        var interval = CliOption.Duration("--interval", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1), "Time between refreshes.");
        var iterations = CliOption.Int("--iterations", 0, 0, int.MaxValue, "Refreshes before exiting; 0 (the default) runs until Ctrl-C.");
        var command = new Command("top", "Watch a broker live: services, workers, queue depths, request and error rates, latency percentiles.")
        {
            connect, interval, iterations,
        };
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var endpoint = parse.GetValue(connect)!;
            var every = parse.GetValue(interval);
            await using var client = new CourierClient(CourierClientOptions.Default with
            {
                Endpoints = [endpoint],
                Timeout = TimeSpan.FromSeconds(2),
                Retries = 1,
                Transport = Cli.Transport,
                Security = Cli.Security,
            });
            var screen = new TopScreen(endpoint, Console.Out, !Console.IsOutputRedirected);
            var limit = parse.GetValue(iterations);
            Exception? failed = null;
            for (var round = 1; limit == 0 || round <= limit; round++)
            {
                TopSnapshot snapshot;
                try
                {
                    snapshot = await TopSnapshot.ReadAsync(client, Cli.Shutdown);
                    failed = null;
                }
                catch (Exception ex) when (ex is CourierTimeoutException or CourierRemoteException or CourierUnreachableException)
                {
                    // Drawn, and the view goes on; a bounded run whose last round failed exits with that failure's code.
                    snapshot = TopSnapshot.Failed(ex.Message);
                    failed = ex;
                }

                screen.Draw(snapshot);
                if (limit == 0 || round < limit)
                {
                    await Task.Delay(every, Cli.Shutdown);
                }
            }

            if (failed is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
            }

            return 0;
        }));
        return command;
    }
}
