using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Courier.Tests.Infrastructure;

/// <summary>A real child process (the <c>courier</c> executable, or a Python peer), with its output captured.</summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();

    private ChildProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _stdout.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _stderr.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The Courier.Cli.dll built beside the tests (the test project references the CLI project).</summary>
    public static string CliDll { get; } = Path.Combine(AppContext.BaseDirectory, "Courier.Cli.dll");

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Stdout => string.Join('\n', _stdout);

    public string Stderr => string.Join('\n', _stderr);

    /// <summary>Starts <c>courier</c> with <paramref name="args"/>.</summary>
    /// <remarks>The child uses the transport this test assembly runs on.</remarks>
    public static ChildProcess Start(params string[] args)
        => StartProgram("dotnet", [CliDll, .. args, "--transport", Courier.Transport.Internal.TransportResolver.AutoMeans.ToString()]);

    /// <summary>Starts one of the Python peers in Interop/ with Debian's python3.</summary>
    public static ChildProcess StartPython(string script, params string[] args)
        => StartProgram("/usr/bin/python3", [Path.Combine(AppContext.BaseDirectory, "Interop", script), .. args]);

    public static ChildProcess StartProgram(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new ChildProcess(Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}"));
    }

    /// <summary>Waits until the process prints a line containing <paramref name="text"/>; fails if it exits first.</summary>
    public async Task WaitForOutputAsync(string text)
    {
        await Poll.UntilAsync(
            () => HasExited
                ? throw new InvalidOperationException($"process exited with {ExitCode} before printing '{text}': {Stderr}")
                : Stdout.Contains(text, StringComparison.Ordinal),
            TimeSpan.FromSeconds(30),
            $"output '{text}'");
    }

    /// <summary>Runs a command to completion (bounded) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(TimeSpan timeout, params string[] args)
    {
        await using var process = Start(args);
        using var cts = new CancellationTokenSource(timeout);
        await process._process.WaitForExitAsync(cts.Token);
        process._process.WaitForExit(); // flushes the asynchronous output readers
        return (process.ExitCode, process.Stdout, process.Stderr);
    }

    /// <summary>Runs any program to completion (bounded) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunProgramAsync(TimeSpan timeout, string file, params string[] args)
    {
        await using var process = StartProgram(file, args);
        using var cts = new CancellationTokenSource(timeout);
        await process._process.WaitForExitAsync(cts.Token);
        process._process.WaitForExit(); // flushes the asynchronous output readers
        return (process.ExitCode, process.Stdout, process.Stderr);
    }

    /// <summary>Starts <c>courier server</c> and waits until it prints the endpoint it listens on.</summary>
    /// <remarks>Bind <c>tcp://127.0.0.1:*</c> and use the endpoint returned: the kernel picks a port no one else has.</remarks>
    public static Task<(ChildProcess Process, string Endpoint)> StartServerAsync(params string[] args) => StartListeningAsync(["server", .. args]);

    /// <summary>Starts <c>courier broker</c> and waits until it prints the endpoint it listens on.</summary>
    public static Task<(ChildProcess Process, string Endpoint)> StartBrokerAsync(params string[] args) => StartListeningAsync(["broker", .. args]);

    private static async Task<(ChildProcess Process, string Endpoint)> StartListeningAsync(string[] args)
    {
        var process = Start(args);
        try
        {
            return (process, await process.WaitForEndpointAsync());
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the process prints <c>listening on ENDPOINT</c> and returns the endpoint.</summary>
    public async Task<string> WaitForEndpointAsync()
    {
        string? endpoint = null;
        await Poll.UntilAsync(
            () =>
            {
                if (HasExited)
                {
                    throw new InvalidOperationException($"process exited with {ExitCode} before printing its endpoint: {Stderr}");
                }

                var match = ListeningLine().Match(Stdout);
                endpoint = match.Success ? match.Groups[1].Value : null;
                return endpoint is not null;
            },
            TimeSpan.FromSeconds(30),
            "the process prints the endpoint it listens on");
        return endpoint!;
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill!.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"listening on (\S+)")]
    private static partial Regex ListeningLine();
}
