using System.Text.RegularExpressions;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// A flood of junk costs a bounded number of log lines: a few per kind and interval, then one summary line per interval
/// with exact counts (one-byte messages once logged a warning each: 1 M of them wrote 127 MB of log).
/// </summary>
public sealed partial class ViolationLogTests
{
    private const int Junk = 20_000;

    [Fact]
    public async Task A_flood_of_junk_is_logged_at_a_bounded_rate_and_counted_exactly()
    {
        var logs = new RecordingLoggerFactory();
        var transport = TransportOptions.Default with { ViolationLogBurst = 5, ViolationLogInterval = TimeSpan.FromSeconds(1) };
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = logs, Transport = transport });
        await using var canary = await Canary.StartAsync(server.Endpoint!);

        using (var attacker = new DealerSocket())
        {
            attacker.Options.SendHighWatermark = 0;
            attacker.Connect(server.Endpoint!);
            for (var i = 0; i < Junk; i++)
            {
                attacker.SendFrame([1]); // no delimiter: no reply address, dropped
            }

            // Every junk message is either a line of its own or counted in a summary; summaries come once per interval.
            try
            {
                await Poll.UntilAsync(() => Logged(logs) == Junk, TimeSpan.FromSeconds(60), $"{Junk} junk messages accounted for in the log");
            }
            catch (TimeoutException ex)
            {
                throw new TimeoutException($"{ex.Message}: {Logged(logs)} in\n{string.Join('\n', logs.Messages.Take(40))}", ex);
            }
        }

        var lines = logs.Messages.Count(m => m.Contains("Dropped a message", StringComparison.Ordinal) || m.Contains("not logged in the last", StringComparison.Ordinal));
        Assert.True(lines < 200, $"{lines} log lines for {Junk} junk messages");
        await canary.AssertUnharmedAsync();
    }

    /// <summary>The drops logged one by one, plus those the summaries count.</summary>
    private static long Logged(RecordingLoggerFactory logs)
    {
        long total = 0;
        foreach (var message in logs.Messages)
        {
            if (message.Contains("Dropped a message of 2 frame(s): no empty delimiter", StringComparison.Ordinal))
            {
                total++;
            }
            else if (SummaryCount().Match(message) is { Success: true } match)
            {
                total += long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    [GeneratedRegex(@"not logged in the last .*dropped messages: (\d+) ")]
    private static partial Regex SummaryCount();
}
