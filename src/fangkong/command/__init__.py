"""The command module (指挥部): the five lists (五张清单) as closed loops, task forces and task templates."""
