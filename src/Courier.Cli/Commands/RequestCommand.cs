using System.CommandLine;
using System.Text;
using Courier.Client;

namespace Courier.Cli.Commands;

internal static class RequestCommand
{
    public static Command Create()
    {
        var connect = CliOption.Endpoints("--connect", "Endpoint to connect to; repeat it to spread over several servers or brokers and fail over between them.");
        var service = CliOption.Service("--service", "echo", allowMmi: true, "Service to ask (mmi.* asks the broker itself).");
        var timeout = CliOption.Duration(
            "--timeout", CourierClientOptions.Default.Timeout, TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(24), "Time to wait for a reply, per attempt.");
        var retries = CliOption.Int("--retries", CourierClientOptions.Default.Retries, 0, 100, "Resends after the first attempt.");
        var protocol = CliOption.Enum("--protocol", ClientProtocol.Auto, "Auto (ask the peer), Courier or Mdp (plain 7/MDP).");
        var payload = new Argument<string[]>("payload")
        {
            Description = "Request frames (UTF-8), one per argument; a frame that begins with - goes after --.",
            HelpName = "PAYLOAD",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("request", "Send one request and print the reply, one frame per line.")
        {
            connect, service, timeout, retries, protocol, payload,
        };
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var cancellationToken = Cli.Shutdown;
            using var loggerFactory = Cli.CreateLoggerFactory(parse);
            var defaults = Cli.ClientOptions(parse.GetValue(connect)!, parse.GetValue(timeout), parse.GetValue(retries), loggerFactory);
            var options = defaults with { Protocol = parse.GetValue(protocol) };
            await using var client = new CourierClient(options);
            var frames = (parse.GetValue(payload) ?? []).Select(p => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(p)).ToArray();
            var reply = await client.RequestAsync(parse.GetValue(service)!, frames, cancellationToken);
            foreach (var frame in reply.Frames)
            {
                Console.WriteLine(Encoding.UTF8.GetString(frame.Span));
            }

            return 0;
        }));
        return command;
    }
}
