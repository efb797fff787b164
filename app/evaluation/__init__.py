"""Pure measures of drafts against references: similarity, length, task scores, house terms, win rate.

No database and no model: the comparison service feeds these functions the stored texts.
"""
