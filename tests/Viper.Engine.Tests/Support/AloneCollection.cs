namespace Viper.Engine.Tests.Support;

/// <summary>Tests that time a process or measure its memory: xunit runs this collection with no other test beside it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    public const string Name = "alone";
}
