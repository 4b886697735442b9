using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Courier.Tests.Infrastructure;

/// <summary>Keeps every log message, so a test can wait for something to have happened instead of sleeping.</summary>
public sealed class RecordingLoggerFactory : ILoggerFactory
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyCollection<string> Messages => [.. _entries.Select(e => e.Message)];

    /// <summary>Every message with its level, in the order logged.</summary>
    public IReadOnlyCollection<LogEntry> Entries => _entries;

    public bool Contains(string text) => _entries.Any(e => e.Message.Contains(text, StringComparison.Ordinal));

    /// <summary>The messages logged at <paramref name="level"/> or above, one a line (for assertion messages).</summary>
    public string AtLeast(LogLevel level) => string.Join('\n', _entries.Where(e => e.Level >= level).Select(e => $"{e.Level}: {e.Message}"));

    public ILogger CreateLogger(string categoryName) => new Logger(_entries);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    public readonly record struct LogEntry(LogLevel Level, string Message);

    private sealed class Logger(ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => entries.Enqueue(new LogEntry(logLevel, formatter(state, exception)));
    }
}
