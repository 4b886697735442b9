using System.CommandLine;
using Courier.Client;
using Courier.Transport;
using Microsoft.Extensions.Logging;

namespace Courier.Cli;

/// <summary>Options and error handling shared by every command.</summary>
internal static class Cli
{
    private static readonly CancellationTokenSource ShutdownSource = new();

    /// <summary>Cancelled on SIGINT or SIGTERM.</summary>
    public static CancellationToken Shutdown => ShutdownSource.Token;

    /// <summary>Completes on SIGINT or SIGTERM.</summary>
    public static Task WaitForShutdownAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Shutdown.Register(done.SetResult);
        return done.Task;
    }

    public static void RequestShutdown(System.Runtime.InteropServices.PosixSignalContext context)
    {
        context.Cancel = true;
        ShutdownSource.Cancel();
    }

    public static Option<TimeSpan> DurationOption(string name, TimeSpan defaultValue, string description) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            var token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            if (Duration.TryParse(token, out var value))
            {
                return value;
            }

            result.AddError($"Invalid duration '{token}' for {name}: write it like 500ms, 2.5s or 1m.");
            return default;
        },
    };

    public static Option<int> PositiveIntOption(string name, int defaultValue, string description)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() <= 0)
            {
                result.AddError($"{name} must be a positive number.");
            }
        });
        return option;
    }

    public static readonly Option<TransportImplementation> TransportOption = new("--transport")
    {
        Description = "ZeroMQ implementation: Auto (native libzmq when it loads, else managed), Native or Managed.",
        DefaultValueFactory = _ => TransportImplementation.Auto,
        Recursive = true,
    };

    public static readonly Option<TimeSpan> ZmtpHeartbeatOption = Recursive(DurationOption(
        "--zmtp-heartbeat",
        TransportOptions.Default.HeartbeatInterval,
        "ZMTP PING interval on every connection (keeps connections through nginx alive); 0 turns ZMTP heartbeats off."));

    private static Option<T> Recursive<T>(Option<T> option)
    {
        option.Recursive = true;
        return option;
    }

    /// <summary>Socket settings for this run, with the implementation chosen by --transport.</summary>
    public static TransportOptions Transport { get; private set; } = TransportOptions.Default;

    public static readonly Option<LogLevel> LogLevelOption = new("--log-level")
    {
        Description = "Least severe log level written to stderr.",
        DefaultValueFactory = _ => LogLevel.Warning,
        Recursive = true,
    };

    public static ILoggerFactory CreateLoggerFactory(ParseResult parse) => LoggerFactory.Create(builder => builder
        .SetMinimumLevel(parse.GetValue(LogLevelOption))
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace) // stdout carries results only
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        }));

    /// <summary>Runs a command body, turning every failure into one line on stderr and a non-zero exit code.</summary>
    public static async Task<int> RunAsync(ParseResult parse, Func<Task<int>> body)
    {
        var heartbeat = parse.GetValue(ZmtpHeartbeatOption);
        Transport = TransportOptions.Default with
        {
            Implementation = parse.GetValue(TransportOption),
            HeartbeatInterval = heartbeat,
            // The timeout stays three intervals at least, as with the defaults (5 s and 15 s).
            HeartbeatTimeout = heartbeat * 3 > TransportOptions.Default.HeartbeatTimeout ? heartbeat * 3 : TransportOptions.Default.HeartbeatTimeout,
        };
        try
        {
            return await body();
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
        catch (CourierTimeoutException ex)
        {
            return Fail(3, ex.Message);
        }
        catch (CourierRemoteException ex)
        {
            return Fail(4, ex.Message);
        }
        catch (CourierException ex)
        {
            return Fail(5, ex.Message);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException)
        {
            return Fail(2, ex.Message);
        }
    }

    public static int Fail(int code, string message)
    {
        Console.Error.WriteLine($"courier: error: {message}");
        return code;
    }

    public static CourierClientOptions ClientOptions(IReadOnlyList<string> endpoints, TimeSpan timeout, int retries, ILoggerFactory loggerFactory)
        => CourierClientOptions.Default with
        {
            Endpoints = endpoints,
            Timeout = timeout,
            Retries = retries,
            LoggerFactory = loggerFactory,
            Transport = Transport,
        };
}
